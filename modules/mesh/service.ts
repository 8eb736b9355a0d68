/**
 * The WireGuard mesh as a service of the agent: it loads the nets this node
 * belongs to from `$GRID_HOME/state/nets/`, registers the membership module
 * (replication, joins, PSKs) and the local mesh control module (what the
 * commands call) with the kernel, runs anti-entropy, and reconciles: on every
 * change and every few seconds it renders the desired interface of each net
 * from its member set and applies it. Applying is a diff, so working tunnels
 * are never restarted; revoked or departed peers simply drop out of the spec.
 *
 * Commands reach it with `[MESH_CONTROL_PROMISE, MESH_CONTROL_MODULE, op,
 * args]` from the local command line only. Without an agent, the commands
 * open a {@link Mesh} of their own on the on-disk state (offline mode).
 *
 * @module
 */
import {
  ConfigError,
  type GridHome,
  type Identity,
  type Kernel,
  type Logger,
  type Module,
  oneLine,
  type PeerNetwork,
  reject,
  type Service,
  type ServiceContext,
} from "../../kernel/mod.ts";
import { urlHost } from "../../kernel/peers/mod.ts";
import { MESH_CONTROL_PROMISE, meshControlModule } from "./control.ts";
import { JOIN_PROMISE_HASH, STATUS_SCHEMA } from "./protocol.ts";
import type {
  AdminsRequest,
  AdminsResult,
  AdminStatus,
  CreateRequest,
  CreateResult,
  InviteInfo,
  InviteRequest,
  InviteResult,
  InvitesRequest,
  InvitesResult,
  JoinRequest,
  JoinResult,
  LeaveRequest,
  LeaveResult,
  MeshOps,
  NetStatus,
  RevokeRequest,
  RevokeResult,
  StatusReport,
  StatusRequest,
} from "./protocol.ts";
import { netStatus } from "./status.ts";
import { PathService } from "./_paths.ts";
import { PATH_PROMISE } from "./paths_protocol.ts";
import { PATH_TIMERS, type PathTimers } from "./peer_path.ts";
import { RELAY_DEFAULTS, type RelayLimits } from "./relay.ts";
import { SYSTEM_WG, type WgDriver, type WgDump } from "../wireguard/mod.ts";
import type { MeshContext } from "./_context.ts";
import { NetReconciler } from "./_reconciler.ts";
import { endpointFrom } from "./_self.ts";
import { createNet } from "./_create.ts";
import { joinNet } from "./_join.ts";
import { joinNetsAtBoot, NET_FILE_SUFFIX, readNetsDir } from "./boot_join.ts";
import { finishLeave, leaveNet, revokeMember, withTimeout } from "./_leave.ts";
import {
  AntiEntropy,
  findMember,
  isAdmin,
  isoSeconds,
  kemKeyPair,
  LEGACY_PROMISES,
  memberReach,
  MEMBERSHIP_PROMISES,
  MembershipError,
  Nets,
  type NetState,
  PskExchange,
  signAnnouncement,
} from "../membership/mod.ts";

/** Time between reconcile passes. */
export const RECONCILE_INTERVAL_MS = 3000;
/** A live member with no grid link this long is reported unreachable (once). */
export const UNREACHABLE_AFTER_MS = 10_000;
/** Records that differ from a reachable member's this long are reported (once). */
export const BEHIND_AFTER_MS = 30_000;

/** A peer network with no peers (offline commands). */
export const NO_PEERS: PeerNetwork = {
  selfId: "",
  connected: () => [],
  request: () => Promise.resolve(reject("peer", "No agent is running: no peers")),
  dial: () => {},
  forget: () => {},
  redial: () => {},
  dropLinksFrom: () => {},
  lastHeard: () => undefined,
  onChange: () => () => {},
  sendDatagram: () => false,
  onDatagram: () => () => {},
  remoteAddress: () => undefined,
};

/** Running totals of a {@link Mesh}, since it opened. */
export interface MeshCounters {
  /** Reconcile passes over every net. */
  reconciles: number;
  /** Nets whose reconcile failed, summed over the passes. */
  reconcileErrors: number;
  /** Anti-entropy summary rounds. */
  antiEntropyRounds: number;
}

/** Options for {@link Mesh.open}. */
export interface MeshOptions {
  /** The grid home holding `state/nets/`. */
  home: GridHome;
  /** This node's identity. */
  identity: Identity;
  /** Hash (text) of the promise joiners make (default {@link JOIN_PROMISE_HASH}). */
  joinPromise?: string;
  /** The peer network (none: offline commands). */
  peers?: PeerNetwork;
  /** This agent's grid URL (`grid serve --advertise`), or "auto": worked out from the route to peers. */
  advertise?: string;
  /** The agent's port for peers (with `advertise: "auto"`). */
  agentPort?: number;
  /** Tells the agent a new URL (with `advertise: "auto"`). */
  onAdvertise?: (url: string) => void;
  /** Where events are logged. */
  log?: Logger;
  /** The WireGuard layer (default: the real one). */
  wg?: WgDriver;
  /** Reconcile period (default {@link RECONCILE_INTERVAL_MS}). */
  reconcileMs?: number;
  /** Anti-entropy period. */
  syncMs?: number;
  /** What this node relays for others (default: up to 32 circuits, 100 Mbit/s). */
  relay?: RelayLimits;
  /** Path timers (tests shorten them). */
  pathTimers?: PathTimers;
}

/** The mesh engine of one node: every operation, typed, in this process. */
export class Mesh implements MeshOps {
  /** The nets this node belongs to. */
  readonly nets: Nets;
  readonly #o: MeshOptions;
  readonly #ctx: MeshContext;
  /** The URL this node goes by now (with "auto", the one worked out last). */
  #advertise: string | undefined;
  /** This host's address towards its peers, as last seen. */
  #underlay: string | undefined;
  /** Problems logged at warn and not yet over, by `net/peer/kind`: each is logged once. */
  readonly #problems = new Map<string, number>();
  readonly #startedAt = Date.now();
  readonly #paths: PathService;
  #reconciling: Promise<void> | undefined;
  #again = false;
  #announcing: Promise<void> | undefined;
  #announceAgain = false;
  #announceFresh = false;
  /** The last reconcile failure per net, logged at warn once. */
  readonly #failing = new Map<string, string>();
  #reconciles = 0;
  #reconcileErrors = 0;

  private constructor(options: MeshOptions) {
    this.#o = options;
    this.#advertise = options.advertise === "auto" ? undefined : options.advertise;
    const wg = options.wg ?? SYSTEM_WG;
    const peers = options.peers ?? NO_PEERS;
    const log = options.log ?? (() => {});
    const selfId = options.identity.id;
    const joinPromise = options.joinPromise ?? JOIN_PROMISE_HASH;
    this.nets = new Nets({ home: options.home, identity: options.identity, log });
    const psk = new PskExchange({
      home: options.home,
      peers,
      selfId,
      log,
      onKey: () => this.reconcileSoon(),
    });
    const sync = new AntiEntropy({
      nets: this.nets,
      peers,
      log,
      joinPromise,
      intervalMs: options.syncMs,
      onPsk: (state, peer, ct) => psk.answer(state, peer, ct),
    });
    // deno-lint-ignore no-this-alias -- the context's getter reads the mesh's current URL
    const mesh = this;
    this.#ctx = {
      home: options.home,
      identity: options.identity,
      selfId,
      joinPromise,
      get advertise() {
        return mesh.#advertise;
      },
      refreshAdvertise: (destination) => this.#refreshAdvertise(destination),
      peers,
      online: peers !== NO_PEERS,
      wg,
      log,
      nets: this.nets,
      sync,
      reconciler: new NetReconciler({
        home: options.home,
        selfId,
        wg,
        psk,
        log,
        endpointOf: (state, m) => this.#paths.endpointFor(state, m),
      }),
    };
    this.#paths = new PathService({
      identity: options.identity,
      nets: this.nets,
      peers,
      wg,
      peerSpec: (state, id) => this.#ctx.reconciler.peerSpec(state, id),
      onObserved: () => this.#announceSoon(),
      onMoved: () => this.reconcileSoon(),
      // A member that held the same records at the last exchange holds this node's admit; one
      // that held others may not yet; with no exchange (no grid link) it cannot be told.
      knowsUs: (state, id) => {
        const agreed = this.#ctx.sync.agreement(state, id);
        return agreed === undefined ? undefined : agreed.records === "same";
      },
      relay: options.relay,
      timers: options.pathTimers,
      log,
    });
  }

  /** Opens the mesh on a node's on-disk state. */
  static async open(options: MeshOptions): Promise<Mesh> {
    const mesh = new Mesh(options);
    await mesh.nets.load();
    return mesh;
  }

  /** This node's id. */
  get selfId(): string {
    return this.#ctx.selfId;
  }

  /** The membership modules, the path module and the control module, for the kernel. */
  modules(): Module[] {
    return [...this.#ctx.sync.modules(), this.#paths.module(), this.controlModule()];
  }

  /** Registers modules and promises, then replicates and reconciles until `signal` aborts. */
  start(kernel: Kernel, signal: AbortSignal): void {
    const promises = [
      ...MEMBERSHIP_PROMISES,
      ...LEGACY_PROMISES,
      PATH_PROMISE,
      MESH_CONTROL_PROMISE,
    ];
    for (const p of promises) kernel.acceptPromise(p);
    for (const m of this.modules()) kernel.register(m);
    this.#ctx.sync.start(signal);
    if (this.#ctx.online) this.#paths.start(signal);
    const offChange = this.nets.onChange(() => this.reconcileSoon());
    const offPeers = this.#ctx.peers.onChange((e) => {
      if (e.type === "up") this.reconcileSoon();
    });
    const timer = setInterval(async () => {
      await this.nets.load().catch((err) =>
        this.#ctx.log("warn", "net-reload-failed", { why: oneLine(err) })
      );
      await this.#watchUnderlay();
      this.#checkHealth();
      this.reconcileSoon();
    }, this.#o.reconcileMs ?? RECONCILE_INTERVAL_MS);
    signal.addEventListener("abort", () => {
      clearInterval(timer);
      offChange();
      offPeers();
    }, { once: true });
    // The first ML-KEM key pair of a process costs tens of ms (compiling); pay it now, idle,
    // rather than inside a join.
    const warm = setTimeout(() => kemKeyPair(new Uint8Array(32)), 1000);
    Deno.unrefTimer(warm);
    signal.addEventListener("abort", () => clearTimeout(warm), { once: true });
    void (async () => {
      if (this.nets.names().length > 0) {
        const why = await this.#ctx.wg.preflight().catch((err) => oneLine(err));
        if (why) this.#ctx.log("error", "wireguard-unavailable", { why });
      }
      await this.#watchUnderlay();
      this.#announceSoon(true);
      this.reconcileSoon();
    })();
  }

  /**
   * Notices when this host's own address towards its peers changed (it
   * moved, its lease changed): WireGuard is nudged to handshake from the new
   * address at once, so peers roam to it within a round trip, and with
   * `--advertise auto` the new URL and endpoint are announced.
   */
  async #watchUnderlay(): Promise<void> {
    const { target, source } = await this.#ownAddress();
    if (source === undefined) return;
    const old = this.#underlay;
    this.#underlay = source;
    if (old !== undefined && old !== source) {
      this.#ctx.log("info", "underlay-changed", { old, new: source });
      // Grid links from the old address are dead: drop them, they redial from the new one.
      this.#ctx.peers.dropLinksFrom(old);
      // WireGuard: forget the old source address, then make every peer hear the new one.
      for (const name of this.nets.names()) {
        const iface = this.nets.get(name)!.settings.interface;
        await this.#ctx.wg.resetEndpoints(iface).catch((err) =>
          this.#ctx.log("debug", "endpoints-reset-failed", { interface: iface, why: oneLine(err) })
        );
      }
      await this.#ctx.wg.nudge(this.#peerTunnelAddresses()).catch(() => {});
    }
    await this.#refreshAdvertise(target, source);
  }

  /** The tunnel addresses of every live peer, in every net this node is live in. */
  #peerTunnelAddresses(): string[] {
    const out: string[] = [];
    for (const name of this.nets.names()) {
      const set = this.nets.get(name)!.set;
      if (set.status.get(this.selfId) !== "live") continue;
      for (const m of set.members.values()) {
        if (m.status === "live" && m.id !== this.selfId) out.push(m.address);
      }
    }
    return out;
  }

  /**
   * With `--advertise auto`: the address this host uses to reach its peers
   * (or `destination`), as this node's URL; when it changed (the host moved,
   * its DHCP lease changed), the agent and every net are told.
   */
  async #refreshAdvertise(destination?: string, known?: string): Promise<void> {
    if (this.#o.advertise !== "auto" || this.#o.agentPort === undefined) return;
    const source = known ?? (await this.#ownAddress(destination)).source;
    if (source === undefined) return;
    const host = source.includes(":") ? `[${source}]` : source;
    const url = `ws://${host}:${this.#o.agentPort}`;
    if (url === this.#advertise) return;
    const old = this.#advertise;
    this.#advertise = url;
    this.#o.onAdvertise?.(url);
    this.#ctx.log("info", "address-changed", { old, new: url });
    if (old !== undefined) this.#announceSoon();
  }

  /**
   * Says, once, when a live member has been unreachable on the grid for
   * {@link UNREACHABLE_AFTER_MS}, or has held other records than this node for
   * {@link BEHIND_AFTER_MS} while reachable; and once more when that is over.
   * Never a line per retry.
   */
  #checkHealth(): void {
    const now = Date.now();
    const connected = new Set(this.#ctx.peers.connected().map((p) => p.id));
    const seen = new Set<string>();
    for (const name of this.nets.names()) {
      const state = this.nets.get(name)!;
      if (state.set.status.get(this.selfId) !== "live") continue;
      for (const m of state.set.members.values()) {
        if (m.status !== "live" || m.id === this.selfId) continue;
        const heard = this.#ctx.peers.lastHeard(m.id) ?? this.#startedAt;
        const agreement = this.#ctx.sync.agreement(state, m.id);
        // Members behind NATs have no grid link to each other, only a WireGuard path:
        // unreachable means neither.
        const path = this.#paths.describe(state.settings.net, m.id);
        const noPath = path.path === "unreachable" || path.path === "connecting";
        const checks: [string, boolean, Record<string, unknown>][] = [
          [
            "unreachable",
            !connected.has(m.id) && now - heard > UNREACHABLE_AFTER_MS && noPath,
            { silentS: Math.round((now - heard) / 1000), why: path.why ?? undefined },
          ],
          [
            "records-differ",
            connected.has(m.id) && agreement?.records === "differ" &&
            now - agreement.since > BEHIND_AFTER_MS,
            {},
          ],
        ];
        for (const [kind, bad, fields] of checks) {
          const key = `${name}/${m.id}/${kind}`;
          seen.add(key);
          if (bad && !this.#problems.has(key)) {
            this.#problems.set(key, now);
            this.#ctx.log("warn", `peer-${kind}`, {
              net: name,
              node: m.id,
              name: m.name,
              ...fields,
            });
          } else if (!bad && this.#problems.has(key)) {
            const since = this.#problems.get(key)!;
            this.#problems.delete(key);
            this.#ctx.log("info", `peer-${kind}-over`, {
              net: name,
              node: m.id,
              name: m.name,
              afterS: Math.round((now - since) / 1000),
            });
          }
        }
      }
    }
    for (const key of [...this.#problems.keys()]) if (!seen.has(key)) this.#problems.delete(key);
  }

  /**
   * This host's address towards `destination`, else towards a live peer,
   * else towards the internet (the default route), else its first global
   * address (a node alone on a network with no default route).
   */
  async #ownAddress(destination?: string): Promise<{ target?: string; source?: string }> {
    const wg = this.#ctx.wg;
    for (const target of [destination, this.#peerHost(), ...INTERNET]) {
      if (target === undefined) continue;
      const source = await wg.routeSource(target).catch(() => undefined);
      if (source !== undefined) return { target, source };
    }
    const [first] = await wg.globalAddresses().catch(() => [] as string[]);
    return { source: first };
  }

  /** A live peer's underlay address (from its URL or endpoint), to route towards. */
  #peerHost(): string | undefined {
    for (const name of this.nets.names()) {
      const state = this.nets.get(name)!;
      for (const m of state.set.members.values()) {
        if (m.status !== "live" || m.id === this.selfId) continue;
        const reach = memberReach(state, m);
        const host = hostOf(reach.url) ?? hostOf(reach.endpoint && `udp://${reach.endpoint}`);
        if (host !== undefined) return host;
      }
    }
    return undefined;
  }

  /** Runs {@link #announce} soon (coalesced); `fresh`: even if nothing changed (the agent started). */
  #announceSoon(fresh = false): void {
    if (fresh) this.#announceFresh = true;
    if (this.#announcing) {
      this.#announceAgain = true;
      return;
    }
    this.#announcing = (async () => {
      do {
        this.#announceAgain = false;
        const force = this.#announceFresh;
        this.#announceFresh = false;
        await this.#announce(force);
      } while (this.#announceAgain);
    })().finally(() => (this.#announcing = undefined));
  }

  /**
   * Publishes this node's current grid URL, endpoint and observations of its
   * peers (where it sees them: their NATs' public sides) wherever its latest
   * announcement says otherwise; with `force`, in every net (an agent that
   * starts says it is back, so members waiting to redial it dial at once).
   */
  async #announce(force = false): Promise<void> {
    for (const name of this.nets.names()) {
      const state = this.nets.get(name)!;
      const self = state.set.members.get(this.selfId);
      if (!self || self.status !== "live") continue;
      const held = memberReach(state, self);
      const url = this.#advertise ?? held.url;
      const endpoint = state.settings.endpoint ?? endpointFrom(url, state.settings.listenPort) ??
        held.endpoint;
      const observed = this.#paths.observed(state.settings.net);
      const revokedInvites = await this.nets.inviteBook(name).revoked(Date.now());
      const last = state.announcements.get(this.selfId);
      const same = JSON.stringify([last?.observed ?? [], last?.revokedInvites ?? []]) ===
        JSON.stringify([observed, revokedInvites]);
      if (!force && url === held.url && endpoint === held.endpoint && same) continue;
      try {
        const a = await signAnnouncement(
          this.#o.identity,
          state.settings.net,
          Math.max(Date.now(), (last?.seq ?? 0) + 1),
          { endpoint, url, observed, revokedInvites },
        );
        this.nets.offerAnnouncement(name, a);
        const told = await this.#ctx.sync.announce(state, a);
        if (url !== held.url || endpoint !== held.endpoint) {
          this.#ctx.log("info", "endpoint-announced", { net: name, endpoint, url, told });
        } else {
          this.#ctx.log("debug", "observations-announced", { net: name, count: observed.length });
        }
      } catch (err) {
        this.#ctx.log("warn", "endpoint-announce-failed", { net: name, why: oneLine(err) });
      }
    }
  }

  /** Runs a reconcile pass soon (coalesced). */
  reconcileSoon(): void {
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = (async () => {
      do {
        this.#again = false;
        await this.reconcile();
      } while (this.#again);
    })().finally(() => (this.#reconciling = undefined));
  }

  /** One reconcile pass over every net; errors are logged, never thrown. */
  async reconcile(): Promise<void> {
    this.#reconciles++;
    for (const name of this.nets.names()) {
      const state = this.nets.get(name);
      if (!state) continue;
      try {
        if (state.set.status.get(this.selfId) === "left") {
          if (this.#ctx.online) await finishLeave(this.#ctx, state);
          continue;
        }
        await this.reconcileNet(state);
        this.#failing.delete(name);
      } catch (err) {
        // Once per reason: a node that cannot manage WireGuard says so, not every 3 s.
        const why = oneLine(err);
        this.#reconcileErrors++;
        const again = this.#failing.get(name) === why;
        this.#failing.set(name, why);
        this.#ctx.log(again ? "debug" : "warn", "reconcile-failed", { net: name, why });
      }
    }
  }

  /** How much work the engine has done since it opened (for metrics). */
  counters(): MeshCounters {
    return {
      reconciles: this.#reconciles,
      reconcileErrors: this.#reconcileErrors,
      antiEntropyRounds: this.#ctx.sync.rounds,
    };
  }

  /** Makes one net's interface match its member set (`force`: apply even if unchanged). */
  reconcileNet(state: NetState, force = false): Promise<void> {
    return this.#ctx.reconciler.reconcileNet(state, force);
  }

  /** The module the commands call through the kernel (local origin only). */
  controlModule(): Module {
    return meshControlModule(this);
  }

  /** `create`: founds a net with this node as its first member. */
  create(request: CreateRequest): Promise<CreateResult> {
    return createNet(this.#ctx, request);
  }

  /**
   * `invite`: a one-line token for net `request.name`, redeemed by an admin
   * (this node if it is one). Its URLs: this node's, then the admin's, so a
   * joiner can reach the admin even when this node is away.
   */
  async invite(request: InviteRequest): Promise<InviteResult> {
    const state = this.nets.require(request.name);
    const set = state.set;
    const admin = request.admin === undefined
      ? this.nets.defaultAdmin(set)
      : findMember(set, request.admin).id;
    const self = set.members.get(this.selfId);
    const urls = [request.url ?? this.#advertise ?? (self && memberReach(state, self).url)];
    const adminMember = set.members.get(admin);
    if (admin !== this.selfId && adminMember) urls.push(memberReach(state, adminMember).url);
    const token = await this.nets.invite(request.name, {
      urls: [...new Set(urls.filter((u): u is string => u !== undefined))],
      ttlMs: request.ttlMs,
      uses: request.uses,
      admin,
    });
    const invite = token.invite;
    return { token: token.token, expires: isoSeconds(invite.exp), uses: invite.uses, admin };
  }

  /** `admins`: the net's admins; the founder adds (with a slice) or removes one. */
  async admins(request: AdminsRequest): Promise<AdminsResult> {
    const state = this.nets.require(request.name);
    if (request.action !== "list") {
      if (request.node === undefined) {
        throw new MembershipError(`Name the member to ${request.action}: node id, name or address`);
      }
      const member = findMember(state.set, request.node);
      if (member.status !== "live") {
        throw new MembershipError(
          `Node "${member.name}" is not a live member of "${request.name}"`,
        );
      }
      const wanted = request.action === "add";
      if (wanted === isAdmin(state.set, member.id)) {
        throw new MembershipError(
          `Node "${member.name}" ${wanted ? "is already" : "is not"} an admin of "${request.name}"`,
        );
      }
      const record = await this.nets.grant(
        request.name,
        member,
        wanted ? "admin" : "member",
        request.slice,
      );
      await withTimeout(this.#ctx.sync.push(state, [record]), 3000);
    }
    const set = state.set;
    const admins: AdminStatus[] = [...set.members.values()]
      .filter((m) => m.status === "live" && isAdmin(set, m.id))
      .sort((
        a,
        b,
      ) => (a.role === "founder" ? -1 : b.role === "founder" ? 1 : a.name < b.name ? -1 : 1))
      .map((m) => ({
        id: m.id,
        name: m.name,
        address: m.address,
        role: m.id === set.net.founder ? "founder" : "admin",
        slice: m.id === set.net.founder ? null : set.admins.get(m.id)?.slice.text ?? null,
      }));
    return { name: request.name, admins };
  }

  /** `invites`: the invites this node made (one net or all), newest first; or revoke one. */
  async invites(request: InvitesRequest): Promise<InvitesResult> {
    const now = Date.now();
    if (request.revoke !== undefined) {
      if (request.name === undefined) {
        throw new MembershipError("Name the net of the invite to revoke");
      }
      await this.nets.inviteBook(request.name).revoke(request.revoke, now);
      this.#announceSoon(); // the admins it names hear it with this node's announcement
    }
    const out: InviteInfo[] = [];
    for (const name of this.nets.names()) {
      if (request.name !== undefined && name !== request.name) continue;
      const set = this.nets.get(name)!.set;
      for (const i of await this.nets.inviteBook(name).list()) {
        const used = set.inviteUses.get(i.id) ?? 0;
        out.push({
          net: name,
          id: i.id,
          made: isoSeconds(i.made),
          expires: isoSeconds(i.exp),
          uses: i.uses,
          used,
          admin: i.admin,
          state: i.revoked !== undefined
            ? "revoked"
            : i.exp <= now
            ? "expired"
            : used >= i.uses
            ? "used up"
            : "valid",
        });
      }
    }
    if (request.name !== undefined) this.nets.require(request.name);
    return { invites: out };
  }

  /** `join`: asks a member to admit this node, then brings the interface up. */
  join(request: JoinRequest, signal?: AbortSignal): Promise<JoinResult> {
    return joinNet(this.#ctx, request, signal);
  }

  /** `leave`: records the leave, tells the members, removes the interface and the net here. */
  async leave(request: LeaveRequest): Promise<LeaveResult> {
    const result = await leaveNet(this.#ctx, request);
    const file = this.netsDir && `${this.netsDir}/${request.name}${NET_FILE_SUFFIX}`;
    if (file && await Deno.stat(file).then(() => true, () => false)) {
      result.warnings = [
        `${file} still lists net "${request.name}": this node joins it again when its agent next starts; remove the file to stay out`,
      ];
    }
    return result;
  }

  /** Where this node's agent reads the nets to join on boot (see boot_join.ts), if anywhere. */
  netsDir?: string;

  /** `revoke`: every member drops node `request.node` (an id, name or tunnel address). */
  revoke(request: RevokeRequest): Promise<RevokeResult> {
    return revokeMember(this.#ctx, request);
  }

  /**
   * `down`: removes every interface grid made here (nets' and leftovers),
   * and with them their wireguard-go; the nets stay. Returns their names.
   */
  async down(): Promise<string[]> {
    const removed: string[] = [];
    const reconciler = this.#ctx.reconciler;
    const names = new Set<string>();
    for (const name of this.nets.names()) names.add(this.nets.get(name)!.settings.interface);
    for (const iface of await reconciler.owned.list()) names.add(iface);
    for (const iface of [...names].sort()) {
      if (!(await this.#ctx.wg.readLinkState(iface)).exists) {
        await reconciler.owned.set(iface, false);
        continue;
      }
      if (await reconciler.removeInterface("-", iface)) removed.push(iface);
    }
    return removed;
  }

  /** `status`: this node, its grid peers, and per net its interface and peers. */
  async status(request: StatusRequest): Promise<StatusReport> {
    const only = request.name;
    if (only !== undefined) this.nets.require(only);
    const nets: NetStatus[] = [];
    for (const name of this.nets.names()) {
      if (only !== undefined && name !== only) continue;
      nets.push(await this.#netStatus(this.nets.get(name)!));
    }
    const gridPeers = this.#ctx.peers.connected().map((p) => ({
      id: p.id,
      url: p.url ?? p.advertise ?? null,
      direction: p.direction,
    }));
    const relay = this.#ctx.online ? this.#paths.relayStatus() : null;
    return {
      schema: STATUS_SCHEMA,
      node: this.selfId,
      agent: this.#ctx.online,
      gridPeers,
      relay,
      nets,
    };
  }

  async #netStatus(state: NetState): Promise<NetStatus> {
    const iface = state.settings.interface;
    let dump: WgDump | undefined;
    try {
      dump = await this.#ctx.wg.readStatus(iface);
    } catch {
      dump = undefined; // the interface is missing (or not ours): status shows it as down
    }
    let up = false;
    let exists = false;
    try {
      const link = await this.#ctx.wg.readLinkState(iface);
      up = link.up;
      exists = link.exists;
    } catch (err) {
      this.#ctx.log("warn", "link-state-unreadable", { interface: iface, why: oneLine(err) });
    }
    const sync = this.#ctx.sync;
    return netStatus(state, this.selfId, {
      dump,
      up,
      exists,
      connected: new Set(this.#ctx.peers.connected().map((p) => p.id)),
      lastHeard: (id) => this.#ctx.peers.lastHeard(id),
      records: (id) => sync.agreement(state, id)?.records,
      path: this.#ctx.online ? (id) => this.#paths.describe(state.settings.net, id) : undefined,
    });
  }
}

/** Addresses on the internet to route towards (IPv4, then IPv6 for an IPv6-only host). */
const INTERNET = ["1.1.1.1", "2606:4700:4700::1111"];

/** The host of a URL if it is an IP address. */
function hostOf(url: string | undefined): string | undefined {
  const host = url ? urlHost(url) : undefined;
  return host !== undefined && (/^[0-9.]+$/.test(host) || host.includes(":")) ? host : undefined;
}

/** Options for {@link meshService}. */
export interface MeshServiceOptions {
  /** Hash (text) of the promise joiners make (default {@link JOIN_PROMISE_HASH}). */
  joinPromise?: string;
  /** The WireGuard layer (default: the real one). */
  wg?: WgDriver;
  /** Path timers (default: {@link pathTimersFromEnv}). */
  pathTimers?: PathTimers;
}

/**
 * Path timers from `GRID_PATH_TIMERS` (e.g. `upgradeMs=10000,staleMs=20000`,
 * names as in {@link PathTimers}), for tests that cannot wait minutes; the
 * defaults otherwise. A bad value is an error, not ignored.
 */
export function pathTimersFromEnv(text = Deno.env.get("GRID_PATH_TIMERS")): PathTimers {
  const timers: PathTimers = { ...PATH_TIMERS };
  if (!text) return timers;
  for (const part of text.split(",")) {
    const [key, value] = part.split("=");
    const ms = Number(value);
    if (!(key in timers) || !Number.isInteger(ms) || ms < 0 || ms > 3_600_000) {
      throw new ConfigError(`GRID_PATH_TIMERS: "${part}" is not NAME=MS with a known timer`);
    }
    timers[key as keyof PathTimers] = ms;
  }
  return timers;
}

/** The mesh as a service of the agent. */
export function meshService(options: MeshServiceOptions = {}): Service & { mesh?: Mesh } {
  const service: Service & { mesh?: Mesh } = {
    name: "mesh",
    async start(ctx: ServiceContext): Promise<void> {
      const mesh = await Mesh.open({
        home: ctx.home,
        identity: ctx.identity,
        joinPromise: options.joinPromise,
        peers: ctx.peers,
        advertise: ctx.advertise,
        agentPort: ctx.listenPort,
        onAdvertise: ctx.setAdvertise,
        log: ctx.log,
        wg: options.wg,
        relay: { ...RELAY_DEFAULTS, ...ctx.relay },
        pathTimers: options.pathTimers ?? pathTimersFromEnv(),
      });
      mesh.start(ctx.kernel, ctx.signal);
      service.mesh = mesh;
      mesh.netsDir = ctx.netsDir;
      if (ctx.netsDir) void joinListedNets(mesh, ctx.netsDir, ctx);
    },
  };
  return service;
}

/**
 * Joins, in the background, the nets listed in `dir` (see boot_join.ts):
 * refused files and failed joins are logged; the agent runs on regardless.
 */
async function joinListedNets(mesh: Mesh, dir: string, ctx: ServiceContext): Promise<void> {
  const { files, problems } = await readNetsDir(dir, Deno.uid() ?? 0);
  for (const p of problems) ctx.log("error", "nets-file-refused", { file: p.path, why: p.why });
  // A net this node holds already (live, left or revoked) is not joined again:
  // the token may have expired or been used up by this very node since.
  const held = files.filter((f) => mesh.nets.get(f.request.name) !== undefined);
  for (const f of held) ctx.log("debug", "boot-join-held", { net: f.request.name, file: f.path });
  const todo = files.filter((f) => !held.includes(f));
  if (todo.length === 0) return;
  ctx.log("info", "boot-join-start", { dir, nets: todo.map((f) => f.request.name).join(",") });
  await joinNetsAtBoot(todo, {
    join: (request, signal) => mesh.join(request, signal),
    log: ctx.log,
    signal: ctx.signal,
  }).catch((err) => ctx.log("error", "boot-join-failed", { why: oneLine(err) }));
}
