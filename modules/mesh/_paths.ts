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
 * @module
 */
import {
  answer,
  type CallContext,
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
import { candidatesFor, isReachableEndpoint, observePeers } from "./candidates.ts";
import {
  PATH_TIMERS,
  type PathAction,
  type PathFacts,
  type PathTimers,
  PeerPath,
} from "./peer_path.ts";
import {
  PATH_ARGS,
  PATH_PROMISE,
  pathMessage,
  type PathOp,
  PATHS_MODULE,
  PATHS_TEXT,
} from "./paths_protocol.ts";
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
/** Path requests answered per peer per second (bursts of four seconds' worth). */
const PATH_REQUESTS_PER_SECOND = 20;
/** How long a path request to a peer may take. */
const REQUEST_MS = 5_000;
/** Observations are announced at most this often per net. */
const OBSERVE_ANNOUNCE_MS = 5_000;

/** Options for {@link PathService}. */
export interface PathServiceOptions {
  /** This node's id. */
  selfId: string;
  /** The nets this node belongs to. */
  nets: Nets;
  /** Its grid peers. */
  peers: PeerNetwork;
  /** The WireGuard layer. */
  wg: WgDriver;
  /** The rendered WireGuard peer of member `id` in a net (allowed IPs, PSK), if it is one. */
  peerSpec: (state: NetState, id: string) => Promise<WgPeerSpec | undefined>;
  /** Called when a net's observations changed (announce them), or a path moved (reconcile). */
  onObserved?: (name: string) => void;
  /** Asks for a reconcile pass (a path's endpoint changed). */
  onMoved?: () => void;
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
  /** Bytes received at the last read (undefined before the first), and when they last grew. */
  rx?: number;
  heardAt: number;
  /** Relays whose circuits carried nothing lately, and until when they are skipped. */
  cooldown: Map<string, number>;
  /** Circuits to close once the grace period is over. */
  retire?: ReturnType<typeof setTimeout>;
  /** The reason last logged for it being unreachable (each reason is logged once). */
  loggedWhy?: string;
}

/** A token bucket per peer. */
class Budget {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  take(peer: string, now: number): boolean {
    const cap = PATH_REQUESTS_PER_SECOND * 4;
    const b = this.#buckets.get(peer) ?? { tokens: cap, at: now };
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) / 1000) * PATH_REQUESTS_PER_SECOND);
    b.at = now;
    if (this.#buckets.size > 4096) this.#buckets.clear();
    this.#buckets.set(peer, b);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}

/** The paths of every net this node belongs to. */
export class PathService {
  readonly #o: PathServiceOptions;
  readonly #log: Logger;
  readonly #timers: PathTimers;
  readonly relay: RelaySwitch;
  /** Per net id, per peer id. */
  readonly #peers = new Map<string, Map<string, PeerState>>();
  /** Per net id: this node's observations, and when they were last announced. */
  readonly #observed = new Map<string, { list: Observation[]; key: string; at: number }>();
  readonly #budget = new Budget();
  #attempt = Math.floor(Math.random() * 1e6);
  #stepping = false;

  /** Paths over `options.peers`; call {@link PathService.start} to run them. */
  constructor(options: PathServiceOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
    this.#timers = options.timers ?? PATH_TIMERS;
    this.relay = new RelaySwitch(options.peers, options.relay ?? RELAY_DEFAULTS, this.#log);
  }

  /** The path module for the kernel, and its promise. */
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
      // A member came up: it may relay or help, so unreachable paths try again now.
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
      for (const peers of this.#peers.values()) {
        for (const p of peers.values()) {
          p.proxy?.close();
          clearTimeout(p.retire);
        }
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
    return p?.path.endpoint(p.proxy?.endpoint) ?? memberReach(state, m).endpoint;
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
      for (const name of this.#o.nets.names()) {
        const state = this.#o.nets.get(name);
        if (!state) continue;
        try {
          await this.#stepNet(state);
        } catch (err) {
          this.#log("debug", "path-step-failed", { net: name, why: oneLine(err) });
        }
      }
    } finally {
      this.#stepping = false;
    }
  }

  async #stepNet(state: NetState): Promise<void> {
    const net = state.settings.net;
    const self = this.#o.selfId;
    const peers = this.#peers.get(net) ?? new Map<string, PeerState>();
    this.#peers.set(net, peers);
    if (state.settings.revoked || state.set.status.get(self) !== "live") {
      for (const id of [...peers.keys()]) this.#forgetPeer(net, id);
      return;
    }
    let dump: WgDump | undefined;
    try {
      dump = await this.#o.wg.readStatus(state.settings.interface);
    } catch {
      return; // no interface yet: nothing to step
    }
    const now = Date.now();
    this.#observe(state, dump, now);
    const byKey = new Map(dump.peers.map((p) => [p.publicKey, p]));
    const live = new Set<string>();
    for (const m of state.set.members.values()) {
      if (m.status !== "live" || m.id === self) continue;
      live.add(m.id);
      let p = peers.get(m.id);
      if (!p) {
        const role = self < m.id ? "arranger" : "follower";
        p = { path: new PeerPath(role, now, this.#timers), heardAt: 0, cooldown: new Map() };
        peers.set(m.id, p);
      }
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
      };
      const action = p.path.tick(facts, now);
      if (action) void this.#act(state, m, p, action);
      if (p.path.established) p.loggedWhy = undefined;
    }
    for (const id of [...peers.keys()]) if (!live.has(id)) this.#forgetPeer(net, id);
  }

  /** Whether a punch towards `peer` is worth asking for. */
  #canPunch(state: NetState, peer: string): boolean {
    const theirs = candidatesFor(state, peer);
    const mine = candidatesFor(state, this.#o.selfId);
    return theirs.endpoints.length > 0 && mine.endpoints.length > 0 &&
      theirs.nat !== "symmetric" && mine.nat !== "symmetric";
  }

  #observe(state: NetState, dump: WgDump, now: number): void {
    const net = state.settings.net;
    const list = observePeers(
      state,
      this.#o.selfId,
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
            endpoint: p.path.punch?.candidate,
          });
          await this.#tellVerdict(state, m, p, true);
          this.#retireRelay(state, m, p);
          this.#o.onMoved?.();
          return;
        }
        case "revert":
          return await this.#revert(state, m, p, true);
        case "restart": {
          this.#closeRelay(state, m, p);
          p.path.relay = undefined;
          const spec = await this.#o.peerSpec(state, m.id);
          if (spec) await this.#o.wg.restartPeer(state.settings.interface, spec);
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
        action: action.kind,
        why: oneLine(err),
      });
    }
  }

  /** Members that could tell both ends of a punch: the peer itself if linked, then others linked to us. */
  #helpers(state: NetState, peer: string): string[] {
    const connected = new Set(this.#o.peers.connected().map((c) => c.id));
    const observes = (id: string) =>
      state.announcements.get(id)?.observed?.some((o) => o.member === peer) ? 0 : 1;
    const others = [...state.set.members.values()]
      .filter((m) =>
        m.status === "live" && m.id !== peer && m.id !== this.#o.selfId && connected.has(m.id)
      )
      .map((m) => m.id)
      .sort((a, b) => observes(a) - observes(b) || (a < b ? -1 : 1));
    return [...(connected.has(peer) ? [peer] : []), ...others];
  }

  async #startPunch(state: NetState, m: Member, p: PeerState, upgrade: boolean): Promise<void> {
    const net = state.settings.net;
    const attempt = ++this.#attempt >>> 0;
    const whys: string[] = [];
    for (const helper of this.#helpers(state, m.id).slice(0, 3)) {
      const reply = await this.#o.peers.request(
        helper,
        pathMessage("punch", net, m.id, attempt, upgrade),
        { timeoutMs: REQUEST_MS },
      );
      const r = readAnswer(reply);
      const candidates = r.ok && Array.isArray(r.payload[0])
        ? (r.payload[0] as Parm[]).filter((c): c is string =>
          typeof c === "string" && isReachableEndpoint(c)
        )
        : [];
      if (!r.ok || candidates.length === 0) {
        whys.push(`${nameOf(state, helper)}: ${r.ok ? "no candidates" : r.reason}`);
        continue;
      }
      const now = Date.now();
      const kickAt = upgrade ? now : now + this.#timers.staggerMs;
      p.path.punching({ helper, attempt, candidate: candidates[0], kickAt }, now, upgrade);
      if (upgrade && p.proxy) p.proxy.paused = true; // late relayed packets would pull WireGuard back
      this.#log("info", "path-punch", {
        net: state.settings.name,
        peer: m.id,
        helper,
        candidate: candidates[0],
        upgrade: upgrade || undefined,
      });
      this.#o.onMoved?.();
      return;
    }
    p.path.noPunch(
      whys.length ? `no punch: ${whys.join("; ")}` : "no member in touch with both ends",
      Date.now(),
    );
  }

  /** This end sends its punch: a new session (restart), or an existing one moved (kick, twice). */
  async #kick(state: NetState, m: Member, p: PeerState, endpoint: string): Promise<void> {
    const iface = state.settings.interface;
    if (p.path.stage === "upgrade") {
      await this.#o.wg.kickPeer(iface, m.wg, endpoint, KEEPALIVE_SECONDS);
      setTimeout(() => {
        if (p.path.stage !== "upgrade") return;
        this.#o.wg.kickPeer(iface, m.wg, endpoint, KEEPALIVE_SECONDS).catch(() => {});
      }, 1000);
      return;
    }
    const spec = await this.#o.peerSpec(state, m.id);
    if (spec) await this.#o.wg.restartPeer(iface, { ...spec, endpoint });
  }

  /** Relays: the peer itself over our own link first, then members linked to us, least tried first. */
  #relays(state: NetState, peer: string, p: PeerState): string[] {
    const now = Date.now();
    const connected = new Set(this.#o.peers.connected().map((c) => c.id));
    const ok = (id: string) => connected.has(id) && (p.cooldown.get(id) ?? 0) <= now;
    const observesPeer = (id: string) =>
      state.announcements.get(id)?.observed?.some((o) => o.member === peer) ? 0 : 1;
    const others = [...state.set.members.values()]
      .filter((m) => m.status === "live" && m.id !== peer && m.id !== this.#o.selfId && ok(m.id))
      .map((m) => m.id)
      .sort((a, b) => observesPeer(a) - observesPeer(b) || (a < b ? -1 : 1));
    return [...(ok(peer) ? [peer] : []), ...others];
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
    if (failed || lost) this.#closeRelay(state, m, p);
    // A relayed session that worked keeps going through the new circuit; otherwise handshake anew.
    const keepSession = p.path.stage === "relay" && p.path.established;
    const proxy = await this.#proxy(state, m, p);
    const whys: string[] = [];
    let notLinked = false;
    for (const via of this.#relays(state, m.id, p).slice(0, 4)) {
      const circuit = 1 + Math.floor(Math.random() * 0xffff_fffe);
      this.relay.attach(via, circuit, (bytes) => proxy.deliver(bytes));
      const reply = await this.#o.peers.request(
        via,
        pathMessage("relay-open", net, m.id, circuit),
        { timeoutMs: REQUEST_MS },
      );
      const r = readAnswer(reply);
      if (!r.ok) {
        // A refusal (not linked yet, full, --no-relay) may change any moment: no cooldown.
        this.relay.detach(via, circuit);
        if (r.code === "not-linked") notLinked = true;
        whys.push(`${via === m.id ? "over its own grid link" : nameOf(state, via)}: ${r.reason}`);
        continue;
      }
      p.path.relayed({ via, circuit }, Date.now());
      proxy.paused = false;
      this.#log("info", "path-relay", { net: name, peer: m.id, via, circuit });
      const iface = state.settings.interface;
      if (keepSession) {
        await this.#o.wg.kickPeer(iface, m.wg, proxy.endpoint, KEEPALIVE_SECONDS);
      } else {
        const spec = await this.#o.peerSpec(state, m.id);
        if (spec) await this.#o.wg.restartPeer(iface, { ...spec, endpoint: proxy.endpoint });
      }
      this.#o.onMoved?.();
      return;
    }
    const cooling = [...p.cooldown].filter(([, until]) => until > Date.now())
      .map(([via]) => `${nameOf(state, via)}: its circuit carried nothing lately`);
    const all = [...whys, ...cooling];
    const why = all.length
      ? `no relay: ${all.join("; ")}`
      : "no direct path, and no member linked to this node could relay";
    // A relay that is up but not yet linked to the peer (it is redialling) may take it soon.
    p.path.noRelay(why, Date.now(), notLinked ? NOT_LINKED_RETRY_MS : undefined);
    if (p.loggedWhy !== why) this.#log("warn", "path-unreachable", { net: name, peer: m.id, why });
    p.loggedWhy = why;
  }

  async #proxy(state: NetState, m: Member, p: PeerState): Promise<UdpProxy> {
    if (p.proxy) return p.proxy;
    const proxy = await UdpProxy.open(state.settings.listenPort, (bytes) => {
      const relay = p.path.relay;
      if (relay) this.relay.send(relay.via, relay.circuit, bytes);
    });
    p.proxy = proxy;
    this.#log("debug", "path-proxy", { net: state.settings.name, peer: m.id, port: proxy.port });
    return proxy;
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
      why: p.path.why,
    });
    this.#o.onMoved?.();
  }

  async #tellVerdict(state: NetState, m: Member, p: PeerState, ok: boolean): Promise<void> {
    const punch = p.path.punch;
    if (!punch) return;
    await this.#o.peers.request(
      punch.helper,
      pathMessage("verdict", state.settings.net, m.id, punch.attempt, ok),
      { timeoutMs: REQUEST_MS },
    );
  }

  /** After a move to a direct path: the relay circuit and proxy go once the grace period is over. */
  #retireRelay(state: NetState, m: Member, p: PeerState): void {
    clearTimeout(p.retire);
    p.retire = setTimeout(() => {
      if (p.path.stage !== "punched") return;
      this.#closeRelay(state, m, p);
      p.path.relay = undefined;
    }, RELAY_GRACE_MS);
    Deno.unrefTimer(p.retire);
  }

  /** Closes this end's relay circuit (telling the relay) and its proxy. */
  #closeRelay(state: NetState, m: Member, p: PeerState): void {
    const relay = p.path.relay;
    if (relay) {
      this.relay.detach(relay.via, relay.circuit);
      void this.#o.peers.request(
        relay.via,
        pathMessage("relay-close", state.settings.net, m.id, relay.circuit),
        { timeoutMs: REQUEST_MS },
      );
    }
    if (p.path.stage !== "relay" && p.path.stage !== "upgrade") {
      p.proxy?.close();
      p.proxy = undefined;
    }
  }

  #forgetPeer(net: string, id: string): void {
    const p = this.#peers.get(net)?.get(id);
    if (!p) return;
    const relay = p.path.relay;
    if (relay) this.relay.detach(relay.via, relay.circuit);
    p.proxy?.close();
    clearTimeout(p.retire);
    this.#peers.get(net)!.delete(id);
  }

  /** A grid peer went down: circuits through it are lost; circuits it relayed for others close. */
  #peerDown(id: string): void {
    for (const c of this.relay.dropNode(id)) {
      void this.#o.peers.request(
        c.other,
        pathMessage("relay-closed", c.net, c.gone, c.circuit),
        { timeoutMs: REQUEST_MS },
      );
    }
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
    if (!this.#budget.take(from, Date.now())) {
      return refusal("peer", "Too many path requests from your node; slow down");
    }
    const op = parms[2] as PathOp;
    if (typeof op !== "string" || !(op in PATH_ARGS)) {
      return refusal("usage", `Unknown path operation "${String(parms[2]).slice(0, 20)}"`);
    }
    const state = typeof parms[3] === "string" ? this.#o.nets.byId(parms[3]) : undefined;
    if (!state) return refusal("not-found", "This node is not in that net");
    const self = this.#o.selfId;
    if (state.settings.revoked || !isLive(state.set, self)) {
      return refusal("denied", "This node is not a live member of that net");
    }
    if (!isLive(state.set, from)) {
      return refusal(
        "denied",
        `Node "${from}" is not a live member of net "${state.settings.name}"`,
      );
    }
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
    const peer = args[0] as string;
    if (peer === from || !isLive(state.set, peer)) {
      return refusal("denied", `Node "${peer}" is not another live member of that net`);
    }
    try {
      switch (op) {
        case "punch":
          return await this.#helpPunch(state, from, peer, args[1] as number, args[2] as boolean);
        case "punch-go":
          return await this.#told(state, from, args as [string, number, boolean, string[]]);
        case "verdict":
          return await this.#verdict(state, from, peer, args[1] as number, args[2] as boolean);
        case "verdict-go":
          return await this.#takeVerdict(state, peer, args[1] as number, args[2] as boolean);
        case "relay-open":
          return await this.#relayOpen(state, from, peer, args[1] as number);
        case "relay-offer":
          return await this.#relayOffer(state, from, peer, args[1] as number);
        case "relay-close":
          return this.#relayClose(state, from, peer, args[1] as number);
        case "relay-closed":
          return this.#relayClosed(state, from, peer, args[1] as number);
      }
    } catch (err) {
      return refusal("internal", oneLine(err));
    }
  }

  /** Candidates of `id` as this node would tell them: what our WireGuard sees now, then the gossip. */
  async #candidatesOf(state: NetState, id: string): Promise<string[]> {
    const m = state.set.members.get(id);
    const first: string[] = [];
    if (m && id !== this.#o.selfId) {
      const dump = await this.#o.wg.readStatus(state.settings.interface).catch(() => undefined);
      const wg = dump?.peers.find((p) => p.publicKey === m.wg);
      const fresh = wg?.latestHandshake !== undefined &&
        Date.now() / 1000 - wg.latestHandshake <= 180;
      if (fresh && wg?.endpoint && isReachableEndpoint(wg.endpoint)) first.push(wg.endpoint);
    }
    return candidatesFor(state, id, first).endpoints;
  }

  /** As helper: tell `peer` to punch towards `from` now, and answer `from` with `peer`'s candidates. */
  async #helpPunch(
    state: NetState,
    from: string,
    peer: string,
    attempt: number,
    upgrade: boolean,
  ): Promise<Parms> {
    const forPeer = await this.#candidatesOf(state, peer);
    const forFrom = await this.#candidatesOf(state, from);
    if (forPeer.length === 0 || forFrom.length === 0) {
      return refusal("no-candidates", "This node has seen no public endpoint of one of you");
    }
    if (peer === this.#o.selfId) {
      // Asked directly by the arranger: this node is the follower.
      await this.#told(state, from, [from, attempt, upgrade, forFrom]);
      return answer(forPeer);
    }
    if (!this.#o.peers.connected().some((c) => c.id === peer)) {
      return refusal("not-linked", `This node has no grid link to "${peer}"`);
    }
    // Both ends hear at the same moment: the go is sent, and this answer, without waiting.
    void this.#o.peers.request(
      peer,
      pathMessage("punch-go", state.settings.net, from, attempt, upgrade, forFrom),
      { timeoutMs: REQUEST_MS },
    ).then((reply) => {
      const r = readAnswer(reply);
      if (!r.ok) this.#log("debug", "path-go-refused", { peer, why: r.reason });
    });
    return answer(forPeer);
  }

  /** As follower: `arranger` (through `helper`) says punch towards it at `candidates` now. */
  async #told(
    state: NetState,
    helper: string,
    [arranger, attempt, upgrade, candidates]: [string, number, boolean, string[]],
  ): Promise<Parms> {
    const candidate = candidates.find(isReachableEndpoint);
    if (!candidate) return refusal("no-candidates", "No endpoint to punch towards");
    const m = state.set.members.get(arranger)!;
    const p = this.#peer(state, arranger);
    if (p.path.role !== "follower") return refusal("denied", "This node arranges this pair");
    const now = Date.now();
    p.path.told({ helper, attempt, candidate, kickAt: now }, now, upgrade);
    const iface = state.settings.interface;
    if (upgrade) {
      if (p.proxy) p.proxy.paused = true;
      await this.#o.wg.kickPeer(iface, m.wg, candidate, KEEPALIVE_SECONDS);
      setTimeout(() => {
        if (p.path.stage !== "upgrade") return;
        this.#o.wg.kickPeer(iface, m.wg, candidate, KEEPALIVE_SECONDS).catch(() => {});
      }, 1000);
    } else {
      const spec = await this.#o.peerSpec(state, arranger);
      if (spec) await this.#o.wg.restartPeer(iface, { ...spec, endpoint: candidate });
    }
    this.#log("info", "path-punch", {
      net: state.settings.name,
      peer: arranger,
      candidate,
      told: true,
    });
    this.#o.onMoved?.();
    return answer();
  }

  /** The verdict on a try to go direct, from arranger `from`: as helper pass it on to `peer`. */
  async #verdict(
    state: NetState,
    from: string,
    peer: string,
    attempt: number,
    ok: boolean,
  ): Promise<Parms> {
    // Asked directly (the arranger used this node, its peer, as the helper): take it.
    if (peer === this.#o.selfId) return await this.#takeVerdict(state, from, attempt, ok);
    if (!this.#o.peers.connected().some((c) => c.id === peer)) {
      return refusal("not-linked", `This node has no grid link to "${peer}"`);
    }
    return await this.#o.peers.request(
      peer,
      pathMessage("verdict-go", state.settings.net, from, attempt, ok),
      { timeoutMs: REQUEST_MS },
    );
  }

  /** As follower: arranger `arranger` says whether the try to go direct worked. */
  async #takeVerdict(
    state: NetState,
    arranger: string,
    attempt: number,
    ok: boolean,
  ): Promise<Parms> {
    const p = this.#peers.get(state.settings.net)?.get(arranger);
    if (!p || p.path.role !== "follower" || p.path.punch?.attempt !== attempt) return answer(false);
    p.path.verdict(ok, Date.now());
    const m = state.set.members.get(arranger)!;
    if (!ok) await this.#revert(state, m, p, false);
    this.#o.onMoved?.();
    return answer(true);
  }

  /** As relay: carry circuit `circuit` between `from` and `peer` (or end it here if `peer` is us). */
  async #relayOpen(state: NetState, from: string, peer: string, circuit: number): Promise<Parms> {
    const net = state.settings.net;
    if (peer === this.#o.selfId) {
      // Over the pair's own grid link: this node is the other end.
      return await this.#relayOffer(state, from, from, circuit);
    }
    const why = this.relay.refuses(from, peer, circuit);
    if (why) return refusal("relay", why);
    if (!this.#o.peers.connected().some((c) => c.id === peer)) {
      return refusal("not-linked", `This node has no grid link to "${peer}"`);
    }
    const reply = await this.#o.peers.request(
      peer,
      pathMessage("relay-offer", net, from, circuit),
      { timeoutMs: REQUEST_MS },
    );
    const r = readAnswer(reply);
    if (!r.ok) return refusal("relay", `"${peer}" did not take the circuit: ${r.reason}`);
    const again = this.relay.refuses(from, peer, circuit);
    if (again) return refusal("relay", again);
    this.relay.open(net, from, peer, circuit);
    this.#log("info", "relay-circuit", { net: state.settings.name, circuit, a: from, b: peer });
    return answer();
  }

  /** As follower: `via` offers circuit `circuit` to `arranger`; WireGuard learns the proxy by roaming. */
  async #relayOffer(
    state: NetState,
    via: string,
    arranger: string,
    circuit: number,
  ): Promise<Parms> {
    const p = this.#peer(state, arranger);
    if (p.path.role !== "follower") return refusal("denied", "This node arranges this pair");
    if (this.relay.ends(via, circuit)) return refusal("relay", `Circuit ${circuit} is taken here`);
    const m = state.set.members.get(arranger)!;
    const old = p.path.relay;
    if (old) this.relay.detach(old.via, old.circuit);
    const proxy = await this.#proxy(state, m, p);
    proxy.paused = false;
    this.relay.attach(via, circuit, (bytes) => proxy.deliver(bytes));
    p.path.offered({ via, circuit }, Date.now());
    this.#log("info", "path-relay", {
      net: state.settings.name,
      peer: arranger,
      via,
      circuit,
      told: true,
    });
    this.#o.onMoved?.();
    return answer();
  }

  /** As relay: an end closes its circuit; the other end is told. As an end over our own link: it is gone. */
  #relayClose(state: NetState, from: string, peer: string, circuit: number): Parms {
    if (peer === this.#o.selfId) return this.#relayClosed(state, from, from, circuit);
    const other = this.relay.closeLeg(from, circuit);
    if (other !== undefined) {
      void this.#o.peers.request(
        other,
        pathMessage("relay-closed", state.settings.net, from, circuit),
        { timeoutMs: REQUEST_MS },
      );
    }
    return answer(other !== undefined);
  }

  /** As an end: relay `via` no longer carries circuit `circuit` to `peer`. */
  #relayClosed(state: NetState, via: string, peer: string, circuit: number): Parms {
    if (!this.relay.ends(via, circuit)) return answer(false);
    this.relay.detach(via, circuit);
    const p = this.#peers.get(state.settings.net)?.get(peer);
    if (p?.path.relay?.via === via && p.path.relay.circuit === circuit) p.path.relayLost(via);
    return answer(true);
  }

  /** The path state of `peer` in `state`'s net, made if new. */
  #peer(state: NetState, peer: string): PeerState {
    const net = state.settings.net;
    const peers = this.#peers.get(net) ?? new Map<string, PeerState>();
    this.#peers.set(net, peers);
    let p = peers.get(peer);
    if (!p) {
      const role = this.#o.selfId < peer ? "arranger" : "follower";
      p = { path: new PeerPath(role, Date.now(), this.#timers), heardAt: 0, cooldown: new Map() };
      peers.set(peer, p);
    }
    return p;
  }
}

/** A member's name in `state`'s net, else a short id. */
function nameOf(state: NetState, id: string): string {
  return state.set.members.get(id)?.name ?? id.slice(0, 16);
}
