/**
 * The member set: a pure, deterministic fold of a net's records. Every node
 * that holds the same records computes the same set, whatever order they
 * arrived in, so the net needs no coordinator.
 *
 * The rules are built so that no member can change another's standing by
 * choosing where its records sit in the DAG (docs/membership.md has the
 * threat model):
 *
 * - Roles. The founder (the genesis author) can never be revoked. Only the
 *   founder signs `role` records, granting or removing admin rights; each
 *   grant carries the address slice that admin allocates from. A plain member
 *   signs nothing but its own `left`.
 * - Admits are signed by admins, each inside its own slice (the founder: the
 *   block minus every slice granted in the admit's past), so two admins never
 *   race for an address. An admit is void, never moved, when its address or
 *   WireGuard key is held by a live member; the member request proves the
 *   WireGuard key, so nobody can claim another's key. A request admits once,
 *   and only within {@link REQUEST_MAX_AGE_MS} of its signing.
 * - An invite names the one admin that redeems it, so its uses are counted in
 *   that admin's own chain of admits. It is good only while its inviter is a
 *   member with the right to invite: an admit under it must be among the
 *   ancestors of the inviter's leave or revoke (p2panda's StrongRemove), and
 *   a revoke also ends the invite its target joined with. Members a plain
 *   member invited share a quota ({@link SPONSOR_QUOTA}) with their sponsor.
 * - Revokes are signed by an admin (of an admin: by the founder) and name the
 *   target's admit, which must be among their ancestors. An admin act counts
 *   only when its grant is among its ancestors and, once the admin is
 *   removed (demoted, revoked, or left), only when the act is among the
 *   removal's ancestors: a former admin cannot backdate.
 *
 * Records are walked in canonical order (depth in the DAG, then hash); under
 * these rules that order decides nothing an author could exploit, only the
 * tie between records one honest admin wrote itself one after another.
 *
 * @module
 */
import type {
  AdmitRecord,
  GenesisRecord,
  InvitePolicy,
  MemberRecord,
  NetPolicy,
  RevokedRecord,
  RoleRecord,
} from "./records.ts";
import { type Cidr, cidrsOverlap, hostIndex, parseCidr, parseIpv4 } from "./ipam.ts";
import { ipv6Of } from "./ipv6.ts";
import { canonicalIpv6 } from "../../kernel/peers/mod.ts";
import { MembershipError } from "./errors.ts";

/** Where a member stands. */
export type MemberStatus = "live" | "left" | "revoked";
/** A member's rights. */
export type MemberRole = "founder" | "admin" | "member";

/** A request older than this when its admit was signed is stale (a replay). */
export const REQUEST_MAX_AGE_MS = 10 * 60_000;
/** Most live members one sponsor's invitation tree may hold (invites by plain members). */
export const SPONSOR_QUOTA = 64;

/** One member of a net. */
export interface Member {
  /** Node id. */
  readonly id: string;
  /** Ed25519 identity public key. */
  readonly key: Uint8Array;
  /** Display name. */
  readonly name: string;
  /** WireGuard public key (base64). */
  readonly wg: string;
  /** Tunnel address. */
  readonly address: string;
  /** IPv6 tunnel address, derived from the net id and node id ({@link ipv6Of}). */
  readonly address6: string;
  /** WireGuard endpoint from its request (announcements may update it). */
  readonly endpoint?: string;
  /** Grid URL from its request (announcements may update it). */
  readonly url?: string;
  /** Hybrid KEM public key (PSK nets). */
  readonly kem?: Uint8Array;
  /** Live, left or revoked. */
  readonly status: MemberStatus;
  /** Founder, admin or plain member. */
  readonly role: MemberRole;
  /** Id of the admit record. */
  readonly admit: string;
  /** The admin that admitted it. */
  readonly admittedBy: string;
  /** Who signed the invite it joined with (none: an open net). */
  readonly invitedBy?: string;
  /** Id of the invite it joined with. */
  readonly invite?: string;
  /** Root of its invitation tree: itself, unless a plain member invited it. */
  readonly sponsor: string;
  /** Admit time (admin's clock). */
  readonly joined: number;
  /** The admin that revoked it. */
  readonly revokedBy?: string;
  /** For an admin: the block it allocates addresses from. */
  readonly slice?: string;
}

/** The net's founding facts. */
export interface NetInfo {
  /** Net id (hash of the genesis record). */
  readonly id: string;
  /** Net name. */
  readonly name: string;
  /** The address block. */
  readonly cidr: Cidr;
  /** Open, or invite only. */
  readonly policy: NetPolicy;
  /** Whether pairs use pre-shared keys. */
  readonly psk: boolean;
  /** Who may sign invites. */
  readonly invite: InvitePolicy;
  /** The founder's node id. */
  readonly founder: string;
  /** The genesis time (founder's clock, milliseconds). */
  readonly created: number;
}

/** An admin's grant, as the fold found it. */
export interface AdminGrant {
  /** The admin's node id. */
  readonly id: string;
  /** Its address slice. */
  readonly slice: Cidr;
  /** Id of the granting `role` record. */
  readonly grant: string;
  /** True once it was removed (demoted, revoked or left). */
  readonly removed: boolean;
}

/** The folded state. */
export interface MemberSet {
  /** The net's founding facts. */
  readonly net: NetInfo;
  /** Every admitted node, including those who left or were revoked. */
  readonly members: ReadonlyMap<string, Member>;
  /** Status of every identity that ever had authority (the founder included). */
  readonly status: ReadonlyMap<string, MemberStatus>;
  /** Every admin ever granted, by node id. */
  readonly admins: ReadonlyMap<string, AdminGrant>;
  /** Admits counted per invite id. */
  readonly inviteUses: ReadonlyMap<string, number>;
  /** Records that were ignored, with why. */
  readonly ignored: ReadonlyMap<string, string>;
  /** Records with no children: the parents of the next record. */
  readonly heads: string[];
  /** Records that took part in the fold (reachable from genesis). */
  readonly size: number;
}

/** The DAG of one net's records: order, children, and cached ancestor sets. */
class Dag {
  readonly order: MemberRecord[];
  readonly byId = new Map<string, MemberRecord>();
  readonly heads: string[];
  readonly #children = new Map<string, string[]>();
  readonly #ancestors = new Map<string, Set<string>>();
  readonly #descendants = new Map<string, Set<string>>();

  constructor(genesis: MemberRecord, records: MemberRecord[]) {
    for (const r of records) if (r.net === genesis.id) this.byId.set(r.id, r);
    const waiting = new Map<string, number>();
    for (const r of this.byId.values()) {
      if (r.kind === "genesis") continue;
      waiting.set(r.id, r.parents.length);
      for (const p of r.parents) {
        const list = this.#children.get(p);
        if (list) list.push(r.id);
        else this.#children.set(p, [r.id]);
      }
    }
    const depth = new Map<string, number>([[genesis.id, 0]]);
    const queue = [genesis.id];
    for (let i = 0; i < queue.length; i++) {
      for (const child of this.#children.get(queue[i]) ?? []) {
        const left = waiting.get(child)! - 1;
        waiting.set(child, left);
        if (left === 0) {
          const rec = this.byId.get(child)!;
          depth.set(child, 1 + Math.max(...rec.parents.map((p) => depth.get(p)!)));
          queue.push(child);
        }
      }
    }
    this.order = queue.map((id) => this.byId.get(id)!).sort((a, b) =>
      depth.get(a.id)! - depth.get(b.id)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    );
    const referenced = new Set(this.order.flatMap((r) => r.parents));
    this.heads = this.order.filter((r) => !referenced.has(r.id)).map((r) => r.id);
  }

  /** True when `a` is `b` or one of its ancestors (`a` happened before `b`, as `b`'s author saw it). */
  before(a: string, b: string): boolean {
    return this.#ancestorsOf(b).has(a);
  }

  /** Ancestors of `id` (itself included), computed once. */
  #ancestorsOf(id: string): Set<string> {
    let set = this.#ancestors.get(id);
    if (set) return set;
    set = walk(id, (x) => this.byId.get(x)?.parents ?? []);
    this.#ancestors.set(id, set);
    return set;
  }

  /** True when `a` is among the ancestors of `b`, via the descendants of `a` (for grants). */
  after(a: string, b: string): boolean {
    let set = this.#descendants.get(a);
    if (!set) {
      set = walk(a, (x) => this.#children.get(x) ?? []);
      this.#descendants.set(a, set);
    }
    return set.has(b);
  }
}

function walk(start: string, next: (id: string) => string[]): Set<string> {
  const seen = new Set<string>([start]);
  const stack = [start];
  while (stack.length > 0) {
    for (const p of next(stack.pop()!)) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

interface Grant {
  record: RoleRecord;
  slice: Cidr;
}

/**
 * Who holds rights, settled in strata so no one's rights depend on records
 * of someone below them: the founder's records count until the founder's own
 * leave; an admin's rights come from the founder's grant and end with the
 * founder's removal (a demotion or a revoke) or the admin's own leave; only
 * then are plain members' departures read (a revoke counts when its author
 * held the right to sign it).
 */
interface Roles {
  grants: Map<string, Grant>;
  /** Records that end an admin's rights (founder's and the founder's own leave too). */
  adminEnds: Map<string, MemberRecord[]>;
  /** Records that end a node's membership: its leaves, and revokes of it by those entitled. */
  departures: Map<string, MemberRecord[]>;
  ignored: Map<string, string>;
}

function push(map: Map<string, MemberRecord[]>, id: string, r: MemberRecord): void {
  const list = map.get(id);
  if (list) list.push(r);
  else map.set(id, [r]);
}

/** True when `r` names `member`'s admit, and that admit is among `r`'s ancestors. */
function namesAdmit(dag: Dag, r: RevokedRecord | RoleRecord): boolean {
  const target = dag.byId.get(r.admit);
  return target !== undefined && target.kind === "admit" && target.request.id === r.member &&
    dag.before(r.admit, r.id);
}

/** Reads rights and departures (see {@link Roles}). */
function readRoles(dag: Dag, net: NetInfo): Roles {
  const founder = net.founder;
  const grants = new Map<string, Grant>();
  const adminEnds = new Map<string, MemberRecord[]>();
  const departures = new Map<string, MemberRecord[]>();
  const ignored = new Map<string, string>();
  for (const r of dag.order) if (r.kind === "left") push(departures, r.author, r);
  const founderEnds = departures.get(founder) ?? [];
  adminEnds.set(founder, founderEnds);
  const byFounder = (r: MemberRecord) =>
    r.author === founder && founderEnds.every((d) => d.id !== r.id && dag.before(r.id, d.id));
  for (const r of dag.order) {
    if (r.kind === "revoked" && byFounder(r) && namesAdmit(dag, r) && r.member !== founder) {
      push(adminEnds, r.member, r);
    }
    if (r.kind !== "role") continue;
    if (!byFounder(r)) {
      ignored.set(r.id, "only the founder grants or removes admin rights");
      continue;
    }
    if (!namesAdmit(dag, r)) {
      ignored.set(r.id, "it names no admit of that member among its ancestors");
      continue;
    }
    if (r.member === founder) {
      ignored.set(r.id, "the founder's rights cannot change");
      continue;
    }
    if (r.role === "member") {
      push(adminEnds, r.member, r);
      continue;
    }
    let slice: Cidr;
    try {
      slice = parseCidr(r.slice ?? "");
    } catch {
      ignored.set(r.id, "its slice is not a block");
      continue;
    }
    if (!inside(slice, net.cidr)) {
      ignored.set(r.id, "its slice is outside the net's block");
      continue;
    }
    if (grants.has(r.member)) {
      ignored.set(r.id, "the member was granted admin rights before");
      continue;
    }
    if ([...grants.values()].some((g) => cidrsOverlap(g.slice, slice))) {
      ignored.set(r.id, "its slice overlaps another admin's");
      continue;
    }
    grants.set(r.member, { record: r, slice });
  }
  for (const [id, ends] of departures) {
    if (id !== founder && grants.has(id)) {
      for (const d of ends) push(adminEnds, id, d);
    }
  }
  const roles: Roles = { grants, adminEnds, departures, ignored };
  // Plain members' departures: revokes whose authors held the right to sign them.
  for (const r of dag.order) {
    if (r.kind !== "revoked" || r.member === founder || !namesAdmit(dag, r)) continue;
    if (!authorized(roles, dag, founder, r)) continue;
    if (isAdminAt(roles, dag, founder, r.member, r) && r.author !== founder) continue;
    push(departures, r.member, r);
  }
  return roles;
}

/**
 * True when `r` counts as an act of its author's: for the founder until its
 * own leave, for an admin when its grant is among `r`'s ancestors and `r` is
 * among the ancestors of every record that ended its rights.
 */
function authorized(roles: Roles, dag: Dag, founder: string, r: MemberRecord): boolean {
  if (r.author !== founder) {
    const grant = roles.grants.get(r.author);
    if (!grant || !dag.before(grant.record.id, r.id)) return false;
  }
  return (roles.adminEnds.get(r.author) ?? []).every((d) =>
    d.id !== r.id && dag.before(r.id, d.id)
  );
}

/** True when `id` holds admin rights as `r`'s author saw the DAG. */
function isAdminAt(roles: Roles, dag: Dag, founder: string, id: string, r: MemberRecord): boolean {
  if (id === founder) return true;
  const grant = roles.grants.get(id);
  if (!grant || !dag.before(grant.record.id, r.id)) return false;
  return !(roles.adminEnds.get(id) ?? []).some((d) => dag.before(d.id, r.id));
}

function inside(inner: Cidr, outer: Cidr): boolean {
  return inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
}

/** True when `address` lies in `cidr`. */
function within(cidr: Cidr, address: string): boolean {
  const value = parseIpv4(address);
  return value !== null && value >= cidr.base && value < cidr.base + cidr.size;
}

/**
 * Folds a net's records into its member set. Records not reachable from the
 * genesis (a missing ancestor) or of another net are left out. Throws
 * {@link MembershipError} when there is no genesis.
 */
export function foldMembers(records: Iterable<MemberRecord>, netId?: string): MemberSet {
  const all = [...records];
  const genesis = all.find((r) => r.kind === "genesis" && (netId === undefined || r.id === netId));
  if (!genesis || genesis.kind !== "genesis") {
    throw new MembershipError("The net has no genesis record");
  }
  return new Fold(genesis, new Dag(genesis, all)).run();
}

/** One fold: the state it builds while walking the records. */
class Fold {
  readonly #dag: Dag;
  readonly #net: NetInfo;
  readonly #roles: Roles;
  readonly #members = new Map<string, Member>();
  readonly #status = new Map<string, MemberStatus>();
  readonly #inviteUses = new Map<string, number>();
  readonly #ignored: Map<string, string>;
  readonly #taken = new Map<string, string>(); // address -> live member id
  readonly #wgKeys = new Map<string, string>(); // wg key -> live member id
  readonly #usedRequests = new Set<string>();
  /** Revokes that end an invite: by the invite id its target joined with. */
  readonly #inviteKills = new Map<string, RevokedRecord[]>();

  constructor(genesis: GenesisRecord, dag: Dag) {
    this.#dag = dag;
    this.#net = {
      id: genesis.id,
      name: genesis.name,
      cidr: parseCidr(genesis.cidr),
      policy: genesis.policy,
      psk: genesis.psk,
      invite: genesis.invite,
      founder: genesis.author,
      created: genesis.time,
    };
    this.#roles = readRoles(dag, this.#net);
    this.#ignored = new Map(this.#roles.ignored);
    this.#status.set(genesis.author, "live");
    for (const list of this.#roles.departures.values()) {
      for (const r of list) {
        if (r.kind !== "revoked") continue;
        const admit = dag.byId.get(r.admit);
        const invite = admit?.kind === "admit" ? admit.request.invite?.id : undefined;
        if (invite === undefined) continue;
        const kills = this.#inviteKills.get(invite);
        if (kills) kills.push(r);
        else this.#inviteKills.set(invite, [r]);
      }
    }
  }

  run(): MemberSet {
    for (const r of this.#dag.order) {
      let why: string | undefined;
      switch (r.kind) {
        case "genesis":
          if (r.id !== this.#net.id) why = "a second genesis";
          break;
        case "admit":
          why = this.#admit(r);
          break;
        case "left":
          why = this.#left(r);
          break;
        case "revoked":
          why = this.#revoke(r);
          break;
        case "role":
          why = this.#role(r);
          break;
      }
      if (why && !this.#ignored.has(r.id)) this.#ignored.set(r.id, why);
    }
    const admins = new Map<string, AdminGrant>();
    for (const [id, g] of this.#roles.grants) {
      admins.set(id, {
        id,
        slice: g.slice,
        grant: g.record.id,
        removed: (this.#roles.adminEnds.get(id) ?? []).some((d) =>
          this.#dag.before(g.record.id, d.id)
        ),
      });
    }
    return {
      net: this.#net,
      members: this.#members,
      status: this.#status,
      admins,
      inviteUses: this.#inviteUses,
      ignored: this.#ignored,
      heads: this.#dag.heads,
      size: this.#dag.order.length,
    };
  }

  #authorized(r: MemberRecord): boolean {
    return authorized(this.#roles, this.#dag, this.#net.founder, r);
  }

  #isAdminAt(id: string, r: MemberRecord): boolean {
    return isAdminAt(this.#roles, this.#dag, this.#net.founder, id, r);
  }

  /** The block an admin allocates from, as `r` saw the grants: its slice, or the founder's rest. */
  #inSlice(author: string, address: string, r: MemberRecord): boolean {
    if (author !== this.#net.founder) {
      const grant = this.#roles.grants.get(author);
      return grant !== undefined && within(grant.slice, address);
    }
    for (const g of this.#roles.grants.values()) {
      if (within(g.slice, address) && this.#dag.before(g.record.id, r.id)) return false;
    }
    return true;
  }

  #admit(r: AdmitRecord): string | undefined {
    const net = this.#net;
    const req = r.request;
    if (!this.#authorized(r)) return "admits are signed by admins";
    if (req.net !== net.id && !(req.net === "" && net.policy === "open")) {
      return "the request is for another net";
    }
    if (req.netName !== net.name) return "the request names another net";
    if (Math.abs(r.time - req.time) > REQUEST_MAX_AGE_MS) return "the request is stale";
    if (this.#usedRequests.has(req.hash)) return "the request was used before";
    const current = this.#status.get(req.id);
    if (current === "revoked") return "a revoked node cannot be admitted again";
    if (current === "live" && this.#members.has(req.id)) return "already a live member";
    const founderSelf = req.id === net.founder && r.author === net.founder &&
      !this.#members.has(req.id);
    if (req.id === net.founder && !founderSelf) return "the founder cannot be admitted again";
    if (req.id === r.author && !founderSelf) return "a node cannot admit itself";
    const invite = req.invite;
    if (!founderSelf && net.policy === "invite" && !invite) {
      return "the net is closed and no invite";
    }
    let sponsor = req.id;
    if (invite) {
      const why = this.#inviteProblem(r, invite);
      if (why) return why;
      if (!this.#isAdminAt(invite.by, r)) sponsor = this.#members.get(invite.by)!.sponsor;
    }
    if (hostIndex(net.cidr, r.address) === null) return "its address is not a host of the block";
    if (!this.#inSlice(r.author, r.address, r)) return "its address is outside the admin's slice";
    if (this.#taken.has(r.address)) return "its address is held by a live member";
    if (this.#wgKeys.has(req.wg)) return "its WireGuard key is held by a live member";
    if (sponsor !== req.id) {
      let live = 0;
      for (const m of this.#members.values()) {
        if (m.status === "live" && m.sponsor === sponsor) live++;
      }
      if (live >= SPONSOR_QUOTA) return `its sponsor's invitations hold ${SPONSOR_QUOTA} members`;
    }
    if (invite) this.#inviteUses.set(invite.id, (this.#inviteUses.get(invite.id) ?? 0) + 1);
    this.#usedRequests.add(req.hash);
    this.#members.set(req.id, {
      id: req.id,
      key: req.key,
      name: req.name,
      wg: req.wg,
      address: r.address,
      address6: ipv6Of(net.id, req.id),
      endpoint: req.endpoint,
      url: req.url,
      kem: req.kem,
      status: "live",
      role: req.id === net.founder ? "founder" : this.#roleOf(req.id),
      admit: r.id,
      admittedBy: r.author,
      invitedBy: invite?.by,
      invite: invite?.id,
      sponsor,
      joined: r.time,
      slice: this.#roles.grants.get(req.id)?.slice.text,
    });
    this.#status.set(req.id, "live");
    this.#taken.set(r.address, req.id);
    this.#wgKeys.set(req.wg, req.id);
    return undefined;
  }

  #roleOf(id: string): MemberRole {
    const grant = this.#roles.grants.get(id);
    if (!grant) return "member";
    const removed = (this.#roles.adminEnds.get(id) ?? []).some((d) =>
      this.#dag.before(grant.record.id, d.id)
    );
    return removed ? "member" : "admin";
  }

  /** Why `r` may not admit under `invite`, or undefined. */
  #inviteProblem(r: AdmitRecord, invite: NonNullable<AdmitRecord["request"]["invite"]>) {
    if (invite.net !== this.#net.id) return "the invite is for another net";
    if (invite.admin !== r.author) return "the invite names another admin";
    if (r.time > invite.exp) return "the invite had expired";
    if ((this.#inviteUses.get(invite.id) ?? 0) >= invite.uses) return "the invite is used up";
    const inviter = invite.by;
    if (inviter !== this.#net.founder) {
      const m = this.#members.get(inviter);
      if (!m || !this.#dag.before(m.admit, r.id)) return "the inviter was not a member";
    }
    if (this.#net.invite === "admins" && !this.#isAdminAt(inviter, r)) {
      return "only admins may invite to this net";
    }
    // The invite dies with its inviter's membership, and with the membership of whoever
    // joined with it and was revoked (they hold its secret).
    for (const d of this.#roles.departures.get(inviter) ?? []) {
      if (!this.#dag.before(r.id, d.id)) return "the inviter had left or was revoked";
    }
    for (const v of this.#inviteKills.get(invite.id) ?? []) {
      if (!this.#dag.before(r.id, v.id)) return "a member who joined with the invite was revoked";
    }
    return undefined;
  }

  #release(id: string): void {
    const m = this.#members.get(id);
    if (m && m.status === "live") {
      this.#taken.delete(m.address);
      this.#wgKeys.delete(m.wg);
    }
  }

  #left(r: MemberRecord): string | undefined {
    if (this.#status.get(r.author) !== "live" || !this.#members.has(r.author)) {
      return "its author is not a live member";
    }
    this.#release(r.author);
    this.#members.set(r.author, { ...this.#members.get(r.author)!, status: "left" });
    this.#status.set(r.author, "left");
    return undefined;
  }

  #revoke(r: RevokedRecord): string | undefined {
    if (!this.#authorized(r)) return "only an admin may revoke";
    const target = this.#members.get(r.member);
    if (r.member === this.#net.founder) return "the founder cannot be revoked";
    if (r.member === r.author) return "a node cannot revoke itself (it leaves)";
    if (!target || target.admit !== r.admit || !this.#dag.before(r.admit, r.id)) {
      return "it names no admit of the target among its ancestors";
    }
    if (this.#isAdminAt(r.member, r) && r.author !== this.#net.founder) {
      return "only the founder may revoke an admin";
    }
    if (target.status !== "live") return "the target is not a live member";
    this.#revokeOne(target.id, r.author);
    if (r.lineage) {
      // Everyone the target's invitations brought in, and whom they invited, and so on.
      const tree = new Set([target.id]);
      let grew = true;
      while (grew) {
        grew = false;
        for (const m of this.#members.values()) {
          if (m.status === "live" && m.invitedBy && tree.has(m.invitedBy) && !tree.has(m.id)) {
            if (m.role !== "member" && r.author !== this.#net.founder) continue;
            tree.add(m.id);
            this.#revokeOne(m.id, r.author);
            grew = true;
          }
        }
      }
    }
    return undefined;
  }

  #revokeOne(id: string, by: string): void {
    this.#release(id);
    this.#members.set(id, { ...this.#members.get(id)!, status: "revoked", revokedBy: by });
    this.#status.set(id, "revoked");
  }

  #role(r: RoleRecord): string | undefined {
    // Rights were read in stratum one; here a grant only updates a live member's view.
    if (this.#roles.ignored.has(r.id)) return undefined;
    const m = this.#members.get(r.member);
    if (m) {
      this.#members.set(r.member, {
        ...m,
        role: this.#roleOf(r.member),
        slice: this.#roles.grants.get(r.member)?.slice.text,
      });
    }
    return undefined;
  }
}

/** Live members that have a WireGuard key and address, sorted by address. */
export function liveMembers(set: MemberSet): Member[] {
  return [...set.members.values()].filter((m) => m.status === "live")
    .sort((a, b) => a.address.localeCompare(b.address, "en", { numeric: true }));
}

/** True when `id` is a live member (the founder counts from the genesis on). */
export function isLive(set: MemberSet, id: string): boolean {
  return set.status.get(id) === "live";
}

/** True when `id` holds admin rights now (the founder always). */
export function isAdmin(set: MemberSet, id: string): boolean {
  if (id === set.net.founder) return isLive(set, id);
  const grant = set.admins.get(id);
  return grant !== undefined && !grant.removed && isLive(set, id);
}

/** True when `id` may sign invites to this net now. */
export function mayInvite(set: MemberSet, id: string): boolean {
  return isLive(set, id) && (set.net.invite === "members" || isAdmin(set, id));
}

/**
 * Finds a member by node id, name or tunnel address (IPv4 or IPv6). Throws a clear
 * {@link MembershipError} when none or several match.
 */
export function findMember(set: MemberSet, ref: string): Member {
  const byId = set.members.get(ref);
  if (byId) return byId;
  const v6 = canonicalIpv6(ref);
  const matches = [...set.members.values()].filter((m) =>
    m.address === ref || m.name === ref || (v6 !== undefined && m.address6 === v6)
  );
  const live = matches.filter((m) => m.status === "live");
  const pick = live.length > 0 ? live : matches;
  if (pick.length === 1) return pick[0];
  if (pick.length === 0) {
    throw new MembershipError(`No member "${ref}" in net "${set.net.name}"`);
  }
  throw new MembershipError(
    `"${ref}" names ${pick.length} members of net "${set.net.name}"; use a node id`,
  );
}
