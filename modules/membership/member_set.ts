/**
 * The member set: a pure, deterministic fold of a net's records. Every node
 * that holds the same records computes the same set, whatever order they
 * arrived in, so the net needs no coordinator.
 *
 * The fold walks the records in canonical order: by depth in the DAG (the
 * genesis is 0, a record is one deeper than its deepest parent), then by
 * hash. A record takes effect only when its author is a live member at that
 * point. Rules, in that order:
 *
 * - An admit needs the joiner's own signed request for this net; a closed
 *   net needs a valid invite by a live member, unexpired at the admit's time
 *   and not used up (uses are counted in canonical order: later admits under
 *   a used-up invite are void). Nobody admits itself but the founder; a
 *   revoked node is never admitted again; a WireGuard key is held by one
 *   live member at most.
 * - Addresses: an admit's claimed address stands unless a live member holds
 *   it already (or it lies outside the block); then the member gets the next
 *   free address after its claim. The earlier record in canonical order (for
 *   concurrent admits: the lower hash) keeps the address.
 * - A revoke makes its target revoked for good. Records by the revoked node
 *   that are not ancestors of the revoke are ignored, even when they sort
 *   before it, so a revoked node cannot admit anyone after the fact; the fold
 *   repeats until this settles.
 *
 * @module
 */
import type { AdmitRecord, MemberRecord, NetPolicy } from "./records.ts";
import { type Cidr, hostIndex, nextFreeAddress, parseCidr } from "./ipam.ts";
import { MembershipError } from "./errors.ts";

/** Where a member stands. */
export type MemberStatus = "live" | "left" | "revoked";

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
  /** Tunnel address (after conflict resolution). */
  readonly address: string;
  /** The address its admit claimed. */
  readonly claimed: string;
  /** WireGuard endpoint, when reachable. */
  readonly endpoint?: string;
  /** Grid URL, when it accepts connections. */
  readonly url?: string;
  /** Hybrid KEM public key (PSK nets). */
  readonly kem?: Uint8Array;
  /** Live, left or revoked. */
  readonly status: MemberStatus;
  /** Id of the admit record. */
  readonly admit: string;
  /** Who admitted it. */
  readonly admittedBy: string;
  /** Use key of the invite it joined with. */
  readonly invite?: string;
  /** Admit time (admitter's clock). */
  readonly joined: number;
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
  /** The founder's node id. */
  readonly founder: string;
  /** The genesis time (founder's clock, milliseconds). */
  readonly created: number;
}

/** The folded state. */
export interface MemberSet {
  /** The net's founding facts. */
  readonly net: NetInfo;
  /** Every admitted node, including those who left or were revoked. */
  readonly members: ReadonlyMap<string, Member>;
  /** Status of every identity that ever had authority (the founder included). */
  readonly status: ReadonlyMap<string, MemberStatus>;
  /** Admits counted per invite use key. */
  readonly inviteUses: ReadonlyMap<string, number>;
  /** Records that were ignored, with why. */
  readonly ignored: ReadonlyMap<string, string>;
  /** Records with no children: the parents of the next record. */
  readonly heads: string[];
  /** Records that took part in the fold (reachable from genesis). */
  readonly size: number;
}

interface Ordered {
  order: MemberRecord[];
  byId: Map<string, MemberRecord>;
  heads: string[];
}

/** Orders the records reachable from the genesis by (depth, hash). */
function canonicalOrder(genesis: MemberRecord, records: MemberRecord[]): Ordered {
  const byId = new Map<string, MemberRecord>();
  for (const r of records) if (r.net === genesis.id) byId.set(r.id, r);
  const children = new Map<string, string[]>();
  const waiting = new Map<string, number>();
  for (const r of byId.values()) {
    if (r.kind === "genesis") continue;
    waiting.set(r.id, r.parents.length);
    for (const p of r.parents) {
      const list = children.get(p);
      if (list) list.push(r.id);
      else children.set(p, [r.id]);
    }
  }
  const depth = new Map<string, number>([[genesis.id, 0]]);
  const queue = [genesis.id];
  for (let i = 0; i < queue.length; i++) {
    for (const child of children.get(queue[i]) ?? []) {
      const left = waiting.get(child)! - 1;
      waiting.set(child, left);
      if (left === 0) {
        const rec = byId.get(child)!;
        depth.set(child, 1 + Math.max(...rec.parents.map((p) => depth.get(p)!)));
        queue.push(child);
      }
    }
  }
  const order = queue.map((id) => byId.get(id)!).sort((a, b) =>
    depth.get(a.id)! - depth.get(b.id)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
  const referenced = new Set(order.flatMap((r) => r.parents));
  const heads = order.filter((r) => !referenced.has(r.id)).map((r) => r.id);
  return { order, byId, heads };
}

/** Every ancestor of `id` (and `id` itself). */
function ancestors(id: string, byId: Map<string, MemberRecord>): Set<string> {
  const seen = new Set<string>([id]);
  const stack = [id];
  while (stack.length > 0) {
    for (const p of byId.get(stack.pop()!)?.parents ?? []) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

interface Pass {
  set: MemberSet;
  /** Revoked node id to the id of the revoke that took effect. */
  revokes: Map<string, string>;
}

function runPass(
  genesis: MemberRecord & { kind: "genesis" },
  ordered: Ordered,
  exclusions: Map<string, Set<string>>,
): Pass {
  const net: NetInfo = {
    id: genesis.id,
    name: genesis.name,
    cidr: parseCidr(genesis.cidr),
    policy: genesis.policy,
    psk: genesis.psk,
    founder: genesis.author,
    created: genesis.time,
  };
  const members = new Map<string, Member>();
  const status = new Map<string, MemberStatus>([[genesis.author, "live"]]);
  const inviteUses = new Map<string, number>();
  const ignored = new Map<string, string>();
  const revokes = new Map<string, string>();
  const taken = new Map<string, string>(); // address -> live member id
  const wgKeys = new Map<string, string>(); // wg key -> live member id

  const release = (id: string) => {
    const m = members.get(id);
    if (m && m.status === "live") {
      taken.delete(m.address);
      wgKeys.delete(m.wg);
    }
  };
  const admit = (r: AdmitRecord): string | undefined => {
    const req = r.request;
    if (req.net !== net.id && !(req.net === "" && net.policy === "open")) {
      return "the request is for another net";
    }
    if (req.netName !== net.name) return "the request names another net";
    const current = status.get(req.id);
    if (current === "revoked") return "a revoked node cannot be admitted again";
    if (current === "live" && members.has(req.id)) return "already a live member";
    if (req.id === r.author && r.author !== net.founder) return "a node cannot admit itself";
    const invite = req.invite;
    const founderSelf = req.id === net.founder && r.author === net.founder && !members.has(req.id);
    if (!founderSelf && net.policy === "invite" && !invite) {
      return "the net is closed and no invite";
    }
    if (invite) {
      if (invite.net !== net.id) return "the invite is for another net";
      if (status.get(invite.by) !== "live") return "the inviter is not a live member";
      if (r.time > invite.exp) return "the invite had expired";
      if ((inviteUses.get(invite.useKey) ?? 0) >= invite.uses) return "the invite is used up";
    }
    if (wgKeys.has(req.wg)) return "the WireGuard key is held by another live member";
    let address = r.address;
    if (hostIndex(net.cidr, address) === null || taken.has(address)) {
      address = nextFreeAddress(net.cidr, r.address, req.wg, new Set(taken.keys()));
    }
    if (invite) inviteUses.set(invite.useKey, (inviteUses.get(invite.useKey) ?? 0) + 1);
    members.set(req.id, {
      id: req.id,
      key: req.key,
      name: req.name,
      wg: req.wg,
      address,
      claimed: r.address,
      endpoint: req.endpoint,
      url: req.url,
      kem: req.kem,
      status: "live",
      admit: r.id,
      admittedBy: r.author,
      invite: invite?.useKey,
      joined: r.time,
    });
    status.set(req.id, "live");
    taken.set(address, req.id);
    wgKeys.set(req.wg, req.id);
    return undefined;
  };

  for (const r of ordered.order) {
    if (r.kind === "genesis") {
      if (r.id !== genesis.id) ignored.set(r.id, "a second genesis");
      continue;
    }
    const excluded = exclusions.get(r.author);
    if (excluded && !excluded.has(r.id)) {
      ignored.set(r.id, "its author was revoked before it");
      continue;
    }
    if (status.get(r.author) !== "live") {
      ignored.set(r.id, "its author is not a live member");
      continue;
    }
    let why: string | undefined;
    switch (r.kind) {
      case "admit":
        why = admit(r);
        break;
      case "endpoint": {
        const m = members.get(r.author);
        if (!m) why = "the author has no admit yet";
        else members.set(r.author, { ...m, endpoint: r.endpoint, url: r.url ?? m.url });
        break;
      }
      case "left": {
        release(r.author);
        const m = members.get(r.author);
        if (m) members.set(r.author, { ...m, status: "left" });
        status.set(r.author, "left");
        break;
      }
      case "revoked": {
        const target = status.get(r.member);
        if (r.member === r.author) why = "a node cannot revoke itself (it leaves)";
        else if (target === undefined) why = "the target is not a member";
        else if (target === "revoked") why = "the target is already revoked";
        else {
          release(r.member);
          const m = members.get(r.member);
          if (m) members.set(r.member, { ...m, status: "revoked" });
          status.set(r.member, "revoked");
          revokes.set(r.member, r.id);
        }
        break;
      }
    }
    if (why) ignored.set(r.id, why);
  }
  return {
    set: {
      net,
      members,
      status,
      inviteUses,
      ignored,
      heads: ordered.heads,
      size: ordered.order.length,
    },
    revokes,
  };
}

/** Most times the fold repeats while revocations settle. */
const MAX_PASSES = 16;

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
  const ordered = canonicalOrder(genesis, all);
  let used = new Map<string, string>();
  let pass = runPass(genesis, ordered, new Map());
  for (let i = 1; i < MAX_PASSES && !sameRevokes(pass.revokes, used); i++) {
    used = pass.revokes;
    const exclusions = new Map<string, Set<string>>();
    for (const [member, revoke] of used) exclusions.set(member, ancestors(revoke, ordered.byId));
    pass = runPass(genesis, ordered, exclusions);
  }
  return pass.set;
}

function sameRevokes(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
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

/**
 * Finds a member by node id, name or tunnel address. Throws a clear
 * {@link MembershipError} when none or several match.
 */
export function findMember(set: MemberSet, ref: string): Member {
  const byId = set.members.get(ref);
  if (byId) return byId;
  const matches = [...set.members.values()].filter((m) => m.address === ref || m.name === ref);
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
