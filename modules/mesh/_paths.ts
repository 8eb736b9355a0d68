/**
 * Finding paths between members, with no server: the effects around the
 * pure {@link PeerPath} machine, the candidates of candidates.ts and the
 * {@link RelaySwitch}. Once a second it reads each net's `wg show dump`,
 * steps every peer's path and carries out what the machine asks (ask a
 * helper to start a punch, restart or kick a WireGuard peer, open a relay
 * circuit with a loopback proxy as the peer's endpoint); it answers the path
 * protocol for other members (helper, relay, follower); and it keeps this
 * node's observations of its peers, which the mesh announces.
 *
 * A follower acts only on orders its arranger signed (path_order.ts), so a
 * helper or relay, or any other member, cannot steer a pair it is not part
 * of.
 *
 * @module
 */
import { isLinkLocalHost, isLocalOnlyHost } from "../../kernel/peers/mod.ts";
import {
  answer,
  type CallContext,
  type Identity,
  type Logger,
  type Module,
  oneLine,
  type Parm,
  type Parms,
  type PeerNetwork,
  readAnswer,
  readShape,
  refusal,
  reject,
  type Shape,
} from "../../kernel/mod.ts";
import {
  isLive,
  type Member,
  memberReach,
  type Nets,
  type NetState,
  type Observation,
} from "../membership/mod.ts";
import type { WgDriver, WgDump, WgPeerSpec } from "../wireguard/mod.ts";
import { KEEPALIVE_SECONDS } from "./render.ts";
import {
  candidatesFor,
  isReachableEndpoint,
  OBSERVATION_FRESH_SECONDS,
  observePeers,
} from "./candidates.ts";
import {
  PATH_TIMERS,
  type PathAction,
  type PathFacts,
  type PathTimers,
  PeerPath,
} from "./peer_path.ts";
import {
  ACTING_OPS,
  PATH_ARGS,
  PATH_PROMISE,
  pathMessage,
  type PathOp,
  PATHS_MODULE,
  PATHS_TEXT,
} from "./paths_protocol.ts";
import { OrderError, type PathOrder, readOrder, SeenOrders, signOrder } from "./path_order.ts";
import { RELAY_DEFAULTS, type RelayLimits, RelaySwitch } from "./relay.ts";
import { UdpProxy } from "./_udp_proxy.ts";
import type { PeerStatus, RelayStatus } from "./protocol.ts";

/** Time between path steps. */
export const PATH_TICK_MS = 1000;
/** After a relay said it is not linked to the peer yet, ask again this soon. */
const NOT_LINKED_RETRY_MS = 3_000;
/** A relay whose circuit carried nothing is not asked again for this long. */
const RELAY_COOLDOWN_MS = 60_000;
/** After a try to go direct worked, the relay circuit stays this long (late packets, a revert). */
const RELAY_GRACE_MS = 30_000;
/** A relay drops a circuit that carried nothing this long (both ends keep alive every 25 s). */
const CIRCUIT_IDLE_MS = 90_000;
/** Path requests answered per peer per second (bursts of four seconds' worth). */
const PATH_REQUESTS_PER_SECOND = 20;
/** Of them, requests that make this node act (punch, relay, verdict). */
const ACTING_REQUESTS_PER_SECOND = 2;
/** How long a path request to a peer may take. */
const REQUEST_MS = 5_000;
/** How long a relay waits for the far end to take a circuit (shorter than the asker waits). */
const OFFER_MS = 3_000;
/** Observations are announced at most this often per net. */
const OBSERVE_ANNOUNCE_MS = 5_000;
/** A follower takes orders of one arranger at most this often. */
const ORDER_GAP_MS = 500;
/** A dump this recent is good enough to answer a helper request with. */
const DUMP_FRESH_MS = 3_000;

/** Options for {@link PathService}. */
export interface PathServiceOptions {
  /** This node's identity (signs its orders as an arranger). */
  identity: Identity;
  /** The nets this node belongs to. */
  nets: Nets;
  /** Its grid peers. */
  peers: PeerNetwork;
  /** The WireGuard layer. */
  wg: WgDriver;
  /** The rendered WireGuard peer of member `id` in a net (allowed IPs, PSK), if it is one. */
  peerSpec: (state: NetState, id: string) => Promise<WgPeerSpec | undefined>;
  /** Called when a net's observations changed (announce them). */
  onObserved?: (name: string) => void;
  /** Asks for a reconcile pass (a path's endpoint changed). */
  onMoved?: () => void;
  /**
   * Whether member `id` holds this node's admit (see {@link PathFacts}.knowsUs);
   * undefined when it cannot be told.
   */
  knowsUs?: (state: NetState, id: string) => boolean | undefined;
  /** What this node relays for others. */
  relay?: RelayLimits;
  /** Path timers (tests shorten them). */
  timers?: PathTimers;
  /** Event log. */
  log?: Logger;
}

interface PeerState {
  path: PeerPath;
  proxy?: UdpProxy;
  /** The proxy being opened, so two offers at once open one socket. */
  opening?: Promise<UdpProxy>;
  /** Bytes received at the last read (undefined before the first), and when they last grew. */
  rx?: number;
  heardAt: number;
  /** Relays whose circuits carried nothing lately, and until when they are skipped. */
  cooldown: Map<string, number>;
  /** The relay circuit to close once the grace period is over. */
  retire?: ReturnType<typeof setTimeout>;
  /** The reason last logged for it being unreachable (each reason is logged once). */
  loggedWhy?: string;
  /** When this node (as follower) last took an order of the arranger. */
  orderAt: number;
  /** False once forgotten: work still in flight for it stops. */
  current: boolean;
}

/** A token bucket per peer. */
class Budget {
  readonly #rate: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(rate: number) {
    this.#rate = rate;
  }
  take(peer: string, now: number): boolean {
    const cap = this.#rate * 4;
    const b = this.#buckets.get(peer) ?? { tokens: cap, at: now };
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (this.#buckets.size > 4096) this.#buckets.clear();
    this.#buckets.set(peer, b);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}

/** A cheap, stable pseudo-random order key: which members a pair asks first. */
function spread(seed: string, id: string): number {
  let h = 2166136261;
  for (const ch of seed + id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** The paths of every net this node belongs to. */
export class PathService {
  readonly #o: PathServiceOptions;
  readonly #self: string;
  readonly #log: Logger;
  readonly #timers: PathTimers;
  readonly relay: RelaySwitch;
  /** Per net id, per peer id. */
  readonly #peers = new Map<string, Map<string, PeerState>>();
  /** Per net id: this node's observations, and when they were last announced. */
  readonly #observed = new Map<string, { list: Observation[]; key: string; at: number }>();
  /** Per net id: the latest `wg show dump`, and when it was read. */
  readonly #dumps = new Map<string, { dump: WgDump; at: number }>();
  readonly #budget = new Budget(PATH_REQUESTS_PER_SECOND);
  readonly #acting = new Budget(ACTING_REQUESTS_PER_SECOND);
  readonly #seen = new SeenOrders();
  #attempt = Math.floor(Math.random() * 1e6);
  #stepping = false;

  /** Paths over `options.peers`; call {@link PathService.start} to run them. */
  constructor(options: PathServiceOptions) {
    this.#o = options;
    this.#self = options.identity.id;
    this.#log = options.log ?? (() => {});
    this.#timers = options.timers ?? PATH_TIMERS;
    this.relay = new RelaySwitch(options.peers, options.relay ?? RELAY_DEFAULTS, this.#log);
  }

  /** The path module for the kernel. */
  module(): Module {
    return {
      id: PATHS_MODULE,
      name: "mesh-paths",
      promise: PATHS_TEXT,
      scope: "own",
      accept: (parms, ctx) => this.#answer(parms, ctx),
    };
  }

  /** The promise path messages lead with. */
  static readonly promise = PATH_PROMISE;

  /** Steps every path once a second, and drops relay circuits of peers that go down. */
  start(signal: AbortSignal): void {
    const timer = setInterval(() => void this.step(), PATH_TICK_MS);
    const off = this.#o.peers.onChange((e) => {
      if (e.type === "down") this.#peerDown(e.peer.id);
      // A member came up: it may relay or help, so unreachable paths try again (throttled).
      if (e.type === "up") {
        for (const peers of this.#peers.values()) {
          for (const p of peers.values()) p.path.retrySoon();
        }
      }
    });
    signal.addEventListener("abort", () => {
      clearInterval(timer);
      off();
      this.relay.close();
      for (const [net, peers] of this.#peers) {
        for (const id of [...peers.keys()]) this.#forgetPeer(net, id, false);
      }
    }, { once: true });
  }

  /** This node's latest observations of the peers of net `net` (for its announcement). */
  observed(net: string): Observation[] {
    return this.#observed.get(net)?.list ?? [];
  }

  /** The endpoint WireGuard should hold for member `m` (its announced one unless a path says). */
  endpointFor(state: NetState, m: Member): string | undefined {
    const p = this.#peers.get(state.settings.net)?.get(m.id);
    const chosen = p?.path.endpoint(p.proxy?.endpoint);
    if (chosen !== undefined) return chosen;
    // A member that says it is at a loopback (or zoneless link-local) address cannot be reached
    // there: not configured so.
    const announced = memberReach(state, m).endpoint;
    const host = announced?.slice(0, announced.lastIndexOf(":"));
    return announced && host !== undefined && !isLocalOnlyHost(host) && !isLinkLocalHost(host)
      ? announced
      : undefined;
  }

  /** What `grid status` says of the path to `peer` in net `net`. */
  describe(net: string, peer: string): Pick<PeerStatus, "path" | "via" | "why"> {
    const p = this.#peers.get(net)?.get(peer);
    if (!p) return { path: "connecting", via: null, why: "not looked at yet" };
    const d = p.path.describe(Date.now());
    return { path: d.path, via: d.via ?? null, why: d.why ?? null };
  }

  /** The relay's counters. */
  relayStatus(): RelayStatus {
    return this.relay.status();
  }

  /** One step over every net (the timer calls it; tests may too). */
  async step(): Promise<void> {
    if (this.#stepping) return;
    this.#stepping = true;
    try {
      const names = this.#o.nets.names();
      const ids = new Set<string>();
      for (const name of names) {
        const state = this.#o.nets.get(name);
        if (!state) continue;
        ids.add(state.settings.net);
        try {
          await this.#stepNet(state);
        } catch (err) {
          this.#log("debug", "path-step-failed", { net: name, why: oneLine(err) });
        }
      }
      // Nets this node left: their paths, proxies and circuits go.
      for (const [net, peers] of [...this.#peers]) {
        if (ids.has(net)) continue;
        for (const id of [...peers.keys()]) this.#forgetPeer(net, id, true);
        this.#peers.delete(net);
        this.#dumps.delete(net);
        this.#observed.delete(net);
        this.#tellClosed(this.relay.prune(net, () => false, false));
      }
      this.#tellClosed(this.relay.expire(CIRCUIT_IDLE_MS));
    } finally {
      this.#stepping = false;
    }
  }

  async #stepNet(state: NetState): Promise<void> {
    const net = state.settings.net;
    const peers = this.#peers.get(net) ?? new Map<string, PeerState>();
    this.#peers.set(net, peers);
    const live = !state.settings.revoked && state.set.status.get(this.#self) === "live";
    // Circuits this node relays for members no longer live (revoked, left) are dropped.
    this.#tellClosed(this.relay.prune(net, (id) => isLive(state.set, id), live));
    if (!live) {
      for (const id of [...peers.keys()]) this.#forgetPeer(net, id, true);
      return;
    }
    let dump: WgDump;
    try {
      dump = await this.#o.wg.readStatus(state.settings.interface);
    } catch {
      return; // no interface yet: nothing to step
    }
    const now = Date.now();
    this.#dumps.set(net, { dump, at: now });
    this.#observe(state, dump, now);
    const byKey = new Map(dump.peers.map((p) => [p.publicKey, p]));
    const seen = new Set<string>();
    for (const m of state.set.members.values()) {
      if (m.status !== "live" || m.id === this.#self) continue;
      seen.add(m.id);
      const p = this.#peer(state, m.id);
      const wg = byKey.get(m.wg);
      const handshakeAt = (wg?.latestHandshake ?? 0) * 1000;
      if (wg && wg.rxBytes !== p.rx) {
        if (p.rx !== undefined && wg.rxBytes > p.rx) p.heardAt = now;
        p.rx = wg.rxBytes;
      }
      const facts: PathFacts = {
        handshakeAt,
        heardAt: Math.max(p.heardAt, handshakeAt),
        endpoint: wg?.endpoint,
        canPunch: this.#canPunch(state, m.id),
        knowsUs: this.#o.knowsUs?.(state, m.id),
      };
      const action = p.path.tick(facts, now);
      if (action) void this.#act(state, m, p, action);
      if (p.path.established) p.loggedWhy = undefined;
    }
    for (const id of [...peers.keys()]) if (!seen.has(id)) this.#forgetPeer(net, id, true);
  }

  /** Whether a punch towards `peer` is worth asking for. */
  #canPunch(state: NetState, peer: string): boolean {
    const theirs = candidatesFor(state, peer);
    const mine = candidatesFor(state, this.#self);
    return theirs.endpoints.length > 0 && mine.endpoints.length > 0 &&
      theirs.nat !== "symmetric" && mine.nat !== "symmetric";
  }

  #observe(state: NetState, dump: WgDump, now: number): void {
    const net = state.settings.net;
    const list = observePeers(
      state,
      this.#self,
      dump,
      Math.floor(now / 1000),
      (id) => this.#o.peers.remoteAddress(id),
    );
    const key = JSON.stringify(list);
    const held = this.#observed.get(net);
    if (held?.key === key) return;
    if (held && now - held.at < OBSERVE_ANNOUNCE_MS) return; // soon again
    this.#observed.set(net, { list, key, at: now });
    this.#o.onObserved?.(state.settings.name);
  }

  async #act(state: NetState, m: Member, p: PeerState, action: PathAction): Promise<void> {
    const name = state.settings.name;
    try {
      switch (action.kind) {
        case "punch":
          return await this.#startPunch(state, m, p, action.upgrade);
        case "kick":
          return await this.#kick(state, m, p, action.endpoint);
        case "relay":
          return await this.#openRelay(state, m, p, action.failed, action.lost);
        case "upgraded": {
          this.#log("info", "path-direct", {
            net: name,
            peer: m.id,
            name: m.name,
            endpoint: p.path.punch?.candidate,
          });
          await this.#tellVerdict(state, m, p, true);
          this.#retireRelay(state, m, p);
          this.#o.onMoved?.();
          return;
        }
        case "revert":
          // Only the arranger tells: a follower reverts on its own when no verdict came.
          return await this.#revert(state, m, p, p.path.role === "arranger");
        case "restart": {
          this.#closeRelay(state, m, p);
          p.path.relay = undefined;
          const spec = await this.#o.peerSpec(state, m.id);
          if (spec && p.current) await this.#o.wg.restartPeer(state.settings.interface, spec);
          // A dead path is news; a retry of an unreachable one is not.
          const stale = action.why === "stale";
          this.#log(stale ? "info" : "debug", "path-restarted", {
            net: name,
            peer: m.id,
            why: stale ? "no packets for a while" : "retrying",
          });
          this.#o.onMoved?.();
          return;
        }
      }
    } catch (err) {
      this.#log("warn", "path-action-failed", {
        net: name,
        peer: m.id,
        name: m.name,
        action: action.kind,
        why: oneLine(err),
      });
    }
  }

  /**
   * Members that could tell both ends of a punch, or relay them: the peer
   * itself if linked, then members linked to this node in an order of their
   * own per pair (spreading pairs over members, and not favouring a member
   * for anything it says about itself or others).
   */
  #members(state: NetState, peer: string, skip: (id: string) => boolean = () => false): string[] {
    const connected = new Set(this.#o.peers.connected().map((c) => c.id));
    const seed = `${state.settings.net}/${this.#self}/${peer}`;
    const others = [...state.set.members.values()]
      .filter((m) =>
        m.status === "live" && m.id !== peer && m.id !== this.#self && connected.has(m.id) &&
        !skip(m.id)
      )
      .map((m) => m.id)
      .sort((a, b) => spread(seed, a) - spread(seed, b));
    return [...(connected.has(peer) && !skip(peer) ? [peer] : []), ...others];
  }

  /** Signs an order of this node (the arranger) to `follower` in `state`'s net. */
  #order(state: NetState, follower: string, fields: Partial<PathOrder> & Pick<PathOrder, "op">) {
    return signOrder(this.#o.identity, {
      net: state.settings.net,
      arranger: this.#self,
      follower,
      at: Date.now(),
      ...fields,
    });
  }

  async #startPunch(state: NetState, m: Member, p: PeerState, upgrade: boolean): Promise<void> {
    const net = state.settings.net;
    const attempt = ++this.#attempt >>> 0;
    const mine = candidatesFor(state, this.#self).endpoints;
    const theirs = candidatesFor(state, m.id).endpoints;
    if (mine.length === 0 || theirs.length === 0) {
      p.path.noPunch("no public endpoint is known for one end", Date.now());
      return;
    }
    const order = await this.#order(state, m.id, {
      op: "punch",
      attempt,
      upgrade,
      candidates: mine,
    });
    const whys: string[] = [];
    for (const helper of this.#members(state, m.id).slice(0, 3)) {
      const reply = await this.#o.peers.request(
        helper,
        pathMessage("punch", net, m.id, attempt, upgrade, order),
        { timeoutMs: REQUEST_MS },
      );
      if (!p.current) return;
      const r = readAnswer(reply);
      if (!r.ok) {
        whys.push(`${nameOf(state, helper)}: ${r.reason}`);
        continue;
      }
      // The helper's freshest view first, as long as someone else saw it too.
      const told = Array.isArray(r.payload[0]) ? (r.payload[0] as Parm[]) : [];
      const candidate = told.find((c): c is string =>
        typeof c === "string" && theirs.includes(c)
      ) ??
        theirs[0];
      const now = Date.now();
      const kickAt = upgrade ? now : now + this.#timers.staggerMs;
      p.path.punching({ helper, attempt, candidate, kickAt }, now, upgrade);
      if (upgrade && p.proxy) p.proxy.paused = true; // late relayed packets would pull WireGuard back
      this.#log("info", "path-punch", {
        net: state.settings.name,
        peer: m.id,
        name: m.name,
        helper,
        candidate,
        upgrade: upgrade || undefined,
      });
      this.#o.onMoved?.();
      return;
    }
    const why = whys.length
      ? `no punch: ${whys.join("; ")}`
      : "no member in touch with both ends to start a punch";
    p.path.noPunch(why, Date.now());
  }

  /** This end sends its punch: a new session (restart), or an existing one moved (kick, twice). */
  async #kick(state: NetState, m: Member, p: PeerState, endpoint: string): Promise<void> {
    const iface = state.settings.interface;
    if (p.path.stage === "upgrade") {
      await this.#o.wg.kickPeer(iface, m.wg, endpoint, KEEPALIVE_SECONDS);
      this.#kickAgain(iface, m, p, endpoint);
      return;
    }
    const spec = await this.#o.peerSpec(state, m.id);
    if (spec && p.current) await this.#o.wg.restartPeer(iface, { ...spec, endpoint });
  }

  /** A second keepalive a second later, once both NATs have seen this pair's traffic. */
  #kickAgain(iface: string, m: Member, p: PeerState, endpoint: string): void {
    setTimeout(() => {
      if (p.path.stage !== "upgrade" || !p.current) return;
      this.#o.wg.kickPeer(iface, m.wg, endpoint, KEEPALIVE_SECONDS).catch(() => {});
    }, 1000);
  }

  async #openRelay(
    state: NetState,
    m: Member,
    p: PeerState,
    failed?: string,
    lost?: string,
  ): Promise<void> {
    const net = state.settings.net;
    const name = state.settings.name;
    const now = Date.now();
    if (failed) p.cooldown.set(failed, now + RELAY_COOLDOWN_MS);
    // A relayed session that worked keeps going through the new circuit; otherwise handshake anew.
    const keepSession = p.path.stage === "relay" && p.path.established;
    if (failed || lost) this.#closeRelay(state, m, p);
    const proxy = await this.#proxy(state, p);
    if (!p.current) return;
    const whys: string[] = [];
    let notLinked = false;
    const cooling = (id: string) => (p.cooldown.get(id) ?? 0) > Date.now();
    for (const via of this.#members(state, m.id, cooling).slice(0, 4)) {
      const circuit = 1 + Math.floor(Math.random() * 0xffff_fffe);
      const order = await this.#order(state, m.id, { op: "relay", via, circuit });
      this.relay.attach(via, circuit, (bytes) => proxy.deliver(bytes));
      const reply = await this.#o.peers.request(
        via,
        pathMessage("relay-open", net, m.id, circuit, order),
        { timeoutMs: REQUEST_MS },
      );
      const r = readAnswer(reply);
      if (!p.current) {
        this.relay.detach(via, circuit);
        return;
      }
      if (!r.ok) {
        // A refusal (not linked yet, full, --no-relay) may change any moment: no cooldown.
        this.relay.detach(via, circuit);
        if (r.code === "not-linked") notLinked = true;
        whys.push(`${via === m.id ? "over its own grid link" : nameOf(state, via)}: ${r.reason}`);
        continue;
      }
      p.path.relayed({ via, circuit }, Date.now());
      proxy.paused = false;
      this.#log("info", "path-relay", { net: name, peer: m.id, name: m.name, via, circuit });
      const iface = state.settings.interface;
      if (keepSession) {
        await this.#o.wg.kickPeer(iface, m.wg, proxy.endpoint, KEEPALIVE_SECONDS);
      } else {
        const spec = await this.#o.peerSpec(state, m.id);
        if (spec && p.current) {
          await this.#o.wg.restartPeer(iface, { ...spec, endpoint: proxy.endpoint });
        }
      }
      this.#o.onMoved?.();
      return;
    }
    const skipped = [...p.cooldown].filter(([, until]) => until > Date.now())
      .map(([via]) => `${nameOf(state, via)}: its circuit carried nothing lately`);
    const all = [...whys, ...skipped];
    const why = all.length
      ? `no relay: ${all.join("; ")}`
      : "no direct path, and no member linked to this node could relay";
    // A relay that is up but not yet linked to the peer (it is redialling) may take it soon.
    p.path.noRelay(why, Date.now(), notLinked ? NOT_LINKED_RETRY_MS : undefined);
    if (p.loggedWhy !== why) {
      this.#log("warn", "path-unreachable", { net: name, peer: m.id, name: m.name, why });
    }
    p.loggedWhy = why;
  }

  /** The peer's loopback proxy, opened once (two offers at once share one socket). */
  async #proxy(state: NetState, p: PeerState): Promise<UdpProxy> {
    if (p.proxy) return p.proxy;
    p.opening ??= UdpProxy.open(state.settings.listenPort, (bytes) => {
      // Only on a circuit that is still open here: a closed one must carry nothing more.
      const relay = p.path.relay;
      if (relay && this.relay.ends(relay.via, relay.circuit)) {
        this.relay.send(relay.via, relay.circuit, bytes);
      }
    });
    try {
      const proxy = await p.opening;
      if (!p.current) {
        proxy.close();
      } else {
        p.proxy = proxy;
      }
      return proxy;
    } finally {
      p.opening = undefined;
    }
  }

  async #revert(state: NetState, m: Member, p: PeerState, tell: boolean): Promise<void> {
    const proxy = p.proxy;
    if (proxy) {
      proxy.paused = false;
      await this.#o.wg.kickPeer(state.settings.interface, m.wg, proxy.endpoint, KEEPALIVE_SECONDS);
    }
    if (tell) await this.#tellVerdict(state, m, p, false);
    this.#log("info", "path-stays-relayed", {
      net: state.settings.name,
      peer: m.id,
      name: m.name,
      why: p.path.why,
    });
    this.#o.onMoved?.();
  }

  async #tellVerdict(state: NetState, m: Member, p: PeerState, ok: boolean): Promise<void> {
    const punch = p.path.punch;
    if (!punch) return;
    const order = await this.#order(state, m.id, { op: "verdict", attempt: punch.attempt, ok });
    await this.#o.peers.request(
      punch.helper,
      pathMessage("verdict", state.settings.net, m.id, order),
      { timeoutMs: REQUEST_MS },
    );
  }

  /** After a move to a direct path: the relay circuit and proxy go once the grace period is over. */
  #retireRelay(state: NetState, m: Member, p: PeerState): void {
    clearTimeout(p.retire);
    p.retire = setTimeout(() => {
      if (p.path.stage !== "punched" || !p.current) return;
      this.#closeRelay(state, m, p);
      p.path.relay = undefined;
    }, RELAY_GRACE_MS);
    Deno.unrefTimer(p.retire);
  }

  /** Closes this end's relay circuit (telling the relay) and, unless still relayed, its proxy. */
  #closeRelay(state: NetState, m: Member, p: PeerState): void {
    const relay = p.path.relay;
    if (relay) this.#releaseCircuit(state.settings.net, m.id, relay.via, relay.circuit);
    if (p.path.stage !== "relay" && p.path.stage !== "upgrade") {
      p.proxy?.close();
      p.proxy = undefined;
    }
  }

  /** Detaches a circuit that ends here and tells its relay (none over the pair's own link). */
  #releaseCircuit(net: string, peer: string, via: string, circuit: number): void {
    if (!this.relay.ends(via, circuit)) return;
    this.relay.detach(via, circuit);
    if (via === peer) return;
    void this.#o.peers.request(
      via,
      pathMessage("relay-close", net, peer, circuit),
      { timeoutMs: REQUEST_MS },
    );
  }

  /** Forgets a peer (it left, this node left): proxy closed, circuit released. */
  #forgetPeer(net: string, id: string, tell: boolean): void {
    const p = this.#peers.get(net)?.get(id);
    if (!p) return;
    p.current = false;
    const relay = p.path.relay;
    if (relay) {
      if (tell) this.#releaseCircuit(net, id, relay.via, relay.circuit);
      else this.relay.detach(relay.via, relay.circuit);
    }
    p.proxy?.close();
    clearTimeout(p.retire);
    this.#peers.get(net)!.delete(id);
  }

  /** Tells the live ends of circuits this relay dropped. */
  #tellClosed(closed: { net: string; other: string; gone: string; circuit: number }[]): void {
    for (const c of closed) {
      void this.#o.peers.request(
        c.other,
        pathMessage("relay-closed", c.net, c.gone, c.circuit),
        { timeoutMs: REQUEST_MS },
      );
    }
  }

  /** A grid peer went down: circuits through it are lost; circuits it relayed for others close. */
  #peerDown(id: string): void {
    this.#tellClosed(this.relay.dropNode(id));
    for (const peers of this.#peers.values()) {
      for (const p of peers.values()) {
        const relay = p.path.relay;
        if (relay?.via === id) {
          this.relay.detach(relay.via, relay.circuit);
          p.path.relayLost(id);
        }
      }
    }
  }

  // ---- answering other members ----

  async #answer(parms: Parms, ctx: CallContext): Promise<Parms> {
    const from = ctx.origin.startsWith("peer:") ? ctx.origin.slice(5) : undefined;
    if (!from) return reject("denied", "Path messages come from peers");
    const now = Date.now();
    if (!this.#budget.take(from, now)) {
      return refusal("peer", "Too many path requests from your node; slow down");
    }
    const op = parms[2] as PathOp;
    if (typeof op !== "string" || !(op in PATH_ARGS)) {
      return refusal("usage", `Unknown path operation "${String(parms[2]).slice(0, 20)}"`);
    }
    if (ACTING_OPS.has(op) && !this.#acting.take(from, now)) {
      return refusal("peer", "Too many path requests from your node; slow down");
    }
    const state = typeof parms[3] === "string" ? this.#o.nets.byId(parms[3]) : undefined;
    if (!state) return refusal("not-found", "This node is not in that net");
    const shapes: readonly Shape<unknown>[] = PATH_ARGS[op];
    const args: unknown[] = [];
    try {
      if (parms.length !== 4 + shapes.length) throw new Error(`it carries ${shapes.length} values`);
      for (let i = 0; i < shapes.length; i++) {
        args.push(readShape(shapes[i], parms[4 + i], (why) => new Error(why)));
      }
    } catch (err) {
      return refusal("codec", `A ${op} message is malformed: ${oneLine(err)}`);
    }
    // An end closes its own circuit even once it is no longer a member (revoked, left).
    if (op === "relay-close") {
      return this.#relayClose(state, from, args[0] as string, args[1] as number);
    }
    if (state.settings.revoked || !isLive(state.set, this.#self)) {
      return refusal("denied", "This node is not a live member of that net");
    }
    if (!isLive(state.set, from)) {
      return refusal(
        "denied",
        `Node "${from}" is not a live member of net "${state.settings.name}"`,
      );
    }
    const peer = args[0] as string;
    if (peer === from || !isLive(state.set, peer)) {
      return refusal("denied", `Node "${peer}" is not another live member of that net`);
    }
    try {
      switch (op) {
        case "punch":
          return await this.#helpPunch(state, from, peer, args[3] as Uint8Array);
        case "punch-go":
          return await this.#takePunch(state, from, peer, args[1] as Uint8Array);
        case "verdict":
          return await this.#passVerdict(state, from, peer, args[1] as Uint8Array);
        case "verdict-go":
          return await this.#takeVerdict(state, peer, args[1] as Uint8Array);
        case "relay-open":
          return await this.#relayOpen(state, from, peer, args[1] as number, args[2] as Uint8Array);
        case "relay-offer":
          return await this.#takeOffer(state, from, peer, args[1] as Uint8Array);
        case "relay-closed":
          return this.#relayClosed(state, from, peer, args[1] as number);
      }
    } catch (err) {
      return refusal(err instanceof OrderError ? "denied" : "internal", oneLine(err));
    }
    return refusal("usage", `Unknown path operation "${op}"`);
  }

  /** Reads an order of `arranger` for this node, as its follower (throws OrderError). */
  async #readOrder(
    state: NetState,
    arranger: string,
    bytes: Uint8Array,
    op: PathOrder["op"],
    check: (order: PathOrder) => void = () => {},
  ): Promise<{ order: PathOrder; p: PeerState }> {
    const now = Date.now();
    const order = await readOrder(bytes, {
      net: state.settings.net,
      follower: this.#self,
      key: (id) => (isLive(state.set, id) ? state.set.members.get(id)?.key : undefined),
      now,
    });
    if (order.arranger !== arranger || order.op !== op) {
      throw new OrderError(`The order is not a ${op} order of "${arranger}"`);
    }
    const p = this.#peer(state, arranger);
    if (p.path.role !== "follower") throw new OrderError("This node arranges this pair");
    check(order);
    if (!this.#seen.first(bytes, now)) throw new OrderError("The order was already taken");
    if (now - p.orderAt < ORDER_GAP_MS) throw new OrderError("Orders come too fast for this pair");
    p.orderAt = now;
    return { order, p };
  }

  /** Candidates of `id` as this node sees them: its latest dump first, then the gossip. */
  #candidatesOf(state: NetState, id: string): string[] {
    const m = state.set.members.get(id);
    const first: string[] = [];
    const held = this.#dumps.get(state.settings.net);
    if (m && id !== this.#self && held && Date.now() - held.at < DUMP_FRESH_MS) {
      const wg = held.dump.peers.find((p) => p.publicKey === m.wg);
      const fresh = wg?.latestHandshake !== undefined &&
        Date.now() / 1000 - wg.latestHandshake <= OBSERVATION_FRESH_SECONDS;
      if (fresh && wg?.endpoint && isReachableEndpoint(wg.endpoint)) first.push(wg.endpoint);
    }
    return candidatesFor(state, id, first).endpoints;
  }

  /** As helper: pass arranger `from`'s order to `peer` now, and answer with `peer`'s candidates. */
  async #helpPunch(state: NetState, from: string, peer: string, order: Uint8Array): Promise<Parms> {
    if (peer === this.#self) {
      // Asked directly (the pair is linked): this node is the follower.
      await this.#takePunch(state, from, from, order);
      return answer(this.#candidatesOf(state, this.#self));
    }
    if (!this.#o.peers.connected().some((c) => c.id === peer)) {
      return refusal("not-linked", `This node has no grid link to "${peer}"`);
    }
    const forPeer = this.#candidatesOf(state, peer);
    if (forPeer.length === 0) {
      return refusal("no-candidates", "This node knows no public endpoint of that member");
    }
    // Both ends hear at the same moment: the order is passed on, and this answer sent, at once.
    void this.#o.peers.request(
      peer,
      pathMessage("punch-go", state.settings.net, from, order),
      { timeoutMs: REQUEST_MS },
    ).then((reply) => {
      const r = readAnswer(reply);
      if (!r.ok) this.#log("debug", "path-go-refused", { peer, why: r.reason });
    });
    return answer(forPeer);
  }

  /** As follower: arranger `arranger`'s punch order, passed on by `helper`. */
  async #takePunch(
    state: NetState,
    helper: string,
    arranger: string,
    bytes: Uint8Array,
  ): Promise<Parms> {
    const { order, p } = await this.#readOrder(state, arranger, bytes, "punch");
    const candidate = order.candidates!.find(isReachableEndpoint);
    if (!candidate) return refusal("no-candidates", "No endpoint to punch towards");
    const m = state.set.members.get(arranger)!;
    const now = Date.now();
    const upgrade = order.upgrade!;
    p.path.told({ helper, attempt: order.attempt!, candidate, kickAt: now }, now, upgrade);
    const iface = state.settings.interface;
    if (upgrade) {
      if (p.proxy) p.proxy.paused = true;
      await this.#o.wg.kickPeer(iface, m.wg, candidate, KEEPALIVE_SECONDS);
      this.#kickAgain(iface, m, p, candidate);
    } else {
      const spec = await this.#o.peerSpec(state, arranger);
      if (spec && p.current) await this.#o.wg.restartPeer(iface, { ...spec, endpoint: candidate });
    }
    this.#log("info", "path-punch", {
      net: state.settings.name,
      peer: arranger,
      name: nameOf(state, arranger),
      candidate,
      told: true,
    });
    this.#o.onMoved?.();
    return answer();
  }

  /** As helper: pass arranger `from`'s verdict order to `peer` (or take it, if `peer` is us). */
  async #passVerdict(
    state: NetState,
    from: string,
    peer: string,
    order: Uint8Array,
  ): Promise<Parms> {
    if (peer === this.#self) return await this.#takeVerdict(state, from, order);
    if (!this.#o.peers.connected().some((c) => c.id === peer)) {
      return refusal("not-linked", `This node has no grid link to "${peer}"`);
    }
    return await this.#o.peers.request(
      peer,
      pathMessage("verdict-go", state.settings.net, from, order),
      { timeoutMs: REQUEST_MS },
    );
  }

  /** As follower: the arranger says whether the try to go direct worked. */
  async #takeVerdict(state: NetState, arranger: string, bytes: Uint8Array): Promise<Parms> {
    const { order, p } = await this.#readOrder(state, arranger, bytes, "verdict");
    if (p.path.punch?.attempt !== order.attempt || p.path.stage !== "upgrade") return answer(false);
    p.path.verdict(order.ok!, Date.now());
    const m = state.set.members.get(arranger)!;
    if (!order.ok) await this.#revert(state, m, p, false);
    this.#o.onMoved?.();
    return answer(true);
  }

  /** As relay: carry circuit `circuit` between `from` and `peer` (or end it here if `peer` is us). */
  async #relayOpen(
    state: NetState,
    from: string,
    peer: string,
    circuit: number,
    order: Uint8Array,
  ): Promise<Parms> {
    const net = state.settings.net;
    // Over the pair's own grid link: this node is the other end.
    if (peer === this.#self) return await this.#takeOffer(state, from, from, order);
    const why = this.relay.refuses(net, from, peer, circuit);
    if (why) return refusal("relay", why);
    if (!this.#o.peers.connected().some((c) => c.id === peer)) {
      return refusal("not-linked", `This node has no grid link to "${peer}"`);
    }
    const reply = await this.#o.peers.request(
      peer,
      pathMessage("relay-offer", net, from, order),
      { timeoutMs: OFFER_MS },
    );
    const r = readAnswer(reply);
    if (!r.ok) {
      return refusal("relay", `"${nameOf(state, peer)}" did not take the circuit: ${r.reason}`);
    }
    const again = this.relay.refuses(net, from, peer, circuit);
    if (again) return refusal("relay", again);
    this.relay.open(net, from, peer, circuit);
    this.#log("info", "relay-circuit", { net: state.settings.name, circuit, a: from, b: peer });
    return answer();
  }

  /**
   * As follower: arranger `arranger`'s order to take a circuit, offered by
   * `via` (the relay, or the arranger itself over the pair's own link).
   * WireGuard learns the proxy as the arranger's endpoint by roaming, when
   * the arranger's handshake comes through it.
   */
  async #takeOffer(
    state: NetState,
    via: string,
    arranger: string,
    bytes: Uint8Array,
  ): Promise<Parms> {
    // The order names the node the arranger sends through: the relay, or this node itself.
    const carrier = via === arranger ? this.#self : via;
    const { order, p } = await this.#readOrder(state, arranger, bytes, "relay", (o) => {
      if (o.via !== carrier) throw new OrderError("The order names another relay");
    });
    const circuit = order.circuit!;
    if (this.relay.ends(via, circuit)) return refusal("relay", `Circuit ${circuit} is taken here`);
    const old = p.path.relay;
    if (old) this.relay.detach(old.via, old.circuit);
    const proxy = await this.#proxy(state, p);
    if (!p.current) return refusal("internal", "The pair was forgotten meanwhile");
    proxy.paused = false;
    this.relay.attach(via, circuit, (b) => proxy.deliver(b));
    p.path.offered({ via, circuit }, Date.now());
    this.#log("info", "path-relay", {
      net: state.settings.name,
      peer: arranger,
      name: nameOf(state, arranger),
      via,
      circuit,
      told: true,
    });
    this.#o.onMoved?.();
    return answer();
  }

  /** As relay: an end closes its circuit; the other end is told. Over our own link: it is gone. */
  #relayClose(state: NetState, from: string, peer: string, circuit: number): Parms {
    if (peer === this.#self) return this.#relayClosed(state, from, from, circuit);
    const other = this.relay.closeLeg(from, circuit);
    if (other !== undefined) {
      this.#tellClosed([{ net: state.settings.net, other, gone: from, circuit }]);
    }
    return answer(other !== undefined);
  }

  /** As an end: relay `via` no longer carries circuit `circuit` to `peer`. */
  #relayClosed(state: NetState, via: string, peer: string, circuit: number): Parms {
    if (!this.relay.ends(via, circuit)) return answer(false);
    this.relay.detach(via, circuit);
    const p = this.#peers.get(state.settings.net)?.get(peer);
    if (p?.path.relay?.via === via && p.path.relay.circuit === circuit) {
      p.path.relayLost(via);
      if (p.path.stage === "punched") {
        // Went direct meanwhile: the relay's end is not needed any more.
        p.path.relay = undefined;
        p.proxy?.close();
        p.proxy = undefined;
      }
    }
    return answer(true);
  }

  /** The path state of `peer` in `state`'s net, made if new. */
  #peer(state: NetState, peer: string): PeerState {
    const net = state.settings.net;
    const peers = this.#peers.get(net) ?? new Map<string, PeerState>();
    this.#peers.set(net, peers);
    let p = peers.get(peer);
    if (!p) {
      const role = this.#self < peer ? "arranger" : "follower";
      p = {
        path: new PeerPath(role, Date.now(), this.#timers),
        heardAt: 0,
        cooldown: new Map(),
        orderAt: 0,
        current: true,
      };
      peers.set(peer, p);
    }
    return p;
  }
}

/** A member's name in `state`'s net, else a short id. */
function nameOf(state: NetState, id: string): string {
  return state.set.members.get(id)?.name ?? id.slice(0, 16);
}
