/**
 * The WebSocket {@link PeerNetwork}: listens for peers, dials the URLs it is
 * given, keeps exactly one authenticated link per peer node id (when two
 * nodes dial each other, both keep the link opened by the smaller id; but a
 * link that has gone silent gives way to a fresh one from the same node, so
 * a peer whose address changed is taken back at once), and redials with
 * capped, jittered exponential backoff (a link that dies young does not
 * reset it, so a redial never loops faster than the backoff).
 *
 * @module
 */
import type { Identity } from "../identity.ts";
import type { Logger } from "../service.ts";
import { oneLine } from "../errors.ts";
import type { Parms } from "../codec.ts";
import type {
  DatagramListener,
  PeerEvent,
  PeerInfo,
  PeerNetwork,
  RequestOptions,
} from "../peer_network.ts";
import { reject } from "../promises.ts";
import type { WebSocket, WebSocketServer } from "ws";
import {
  CLOSE_CODES,
  LINK_DEFAULTS,
  type LinkHandler,
  maxRecordBytes,
  WsLink,
} from "./_ws_link.ts";
import { PeerError } from "./_protocol.ts";
import { STALE_AFTER_INTERVALS } from "./_liveness.ts";

/** Backoff between redials. */
export interface Backoff {
  /** First delay in ms. */
  minMs: number;
  /** Largest delay in ms. */
  maxMs: number;
}

/** Default backoff: 250 ms doubling to 30 s. */
export const DEFAULT_BACKOFF: Backoff = { minMs: 250, maxMs: 30_000 };

/** Delay before redial number `attempt` (0-based): exponential, capped, half jittered. */
export function backoffDelay(attempt: number, backoff: Backoff, random: number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/** Of two links to the same peer, the one to keep: opened by the smaller node id. */
export function keepLink(
  selfId: string,
  peerId: string,
  existing: "dialer" | "listener",
  incoming: "dialer" | "listener",
): "existing" | "incoming" {
  if (existing === incoming) return "existing";
  const wantRole = selfId < peerId ? "dialer" : "listener";
  return incoming === wantRole ? "incoming" : "existing";
}

/** State of one URL we dial. */
export type DialState = "connecting" | "up" | "backoff" | "standby" | "self" | "stopped";

/** One row of {@link PeerHub.table}. */
export interface PeerRow {
  /** The URL dialled, or the one an inbound peer advertises. */
  url: string | null;
  /** Node id, once known. */
  id: string | null;
  /** "up", or the dialer's state. */
  state: DialState;
  /** Who opened the link: "out" when we dialled. */
  direction: "in" | "out";
  /** Kept promises minus broken ones (see {@link PeerHub.adjustScore}). */
  score: number;
  /** Last error while dialling, if any. */
  error: string | null;
}

/** Options for {@link PeerHub}. */
export interface PeerHubOptions {
  /** This node's identity (proves who we are in every handshake). */
  identity: Identity;
  /** Handles requests from peers (the agent passes them to its kernel). */
  handler: (parms: Parms, ctx: { origin: string; hops: number }) => Promise<Parms>;
  /** URL we tell peers they can dial us at. */
  advertise?: string;
  /** Event log. */
  log?: Logger;
  /** Largest grid message in a frame, in bytes (codec maxBytes; ws maxPayload adds the record's framing). */
  maxFrameBytes?: number;
  /** Most requests in flight from one peer. */
  maxInFlight?: number;
  /** Most authenticated links (see {@link CONNECTION_DEFAULTS} and docs/peers.md for the policy). */
  maxConnections?: number;
  /** Most inbound sockets (handshaking or up) from one remote IP address. */
  maxPerAddress?: number;
  /** Most inbound sockets still in the handshake; a newcomer past it closes the oldest. */
  maxHandshaking?: number;
  /**
   * Most outbound sockets in the handshake at once; further dials wait for a
   * slot. A node that learns of many members at once (a fleet booting) dials
   * them a few at a time, so each handshake ends within its timeout instead
   * of all of them running out of it together on a busy machine.
   */
  maxDialing?: number;
  /** A link that carried a request or reply within this many ms is never evicted. */
  activeWindowMs?: number;
  /** A peer that has not proven its key by then is dropped. */
  handshakeTimeoutMs?: number;
  /** Default timeout for requests to peers. */
  requestTimeoutMs?: number;
  /** Bytes queued for a peer that does not read before its link is closed. */
  maxQueuedBytes?: number;
  /** Redial backoff (default {@link DEFAULT_BACKOFF}). */
  backoff?: Backoff;
  /** Liveness pings on every link (see the link's defaults). */
  pingIntervalMs?: number;
  /** A link silent this long is cut. */
  deadAfterMs?: number;
}

/** A link that stayed up this long resets its dialer's backoff. */
export const STABLE_LINK_MS = 10_000;

/** Defaults for the connection limits of {@link PeerHubOptions}. */
export const CONNECTION_DEFAULTS = {
  maxConnections: 64,
  maxPerAddress: 8,
  maxHandshaking: 64,
  maxDialing: 8,
  activeWindowMs: 30_000,
} as const;

/** `remoteAddress` as a key: an IPv4-mapped IPv6 address counts as the IPv4 one. */
export function addressKey(remote: string | undefined): string {
  if (!remote) return "unknown";
  return remote.startsWith("::ffff:") && remote.includes(".") ? remote.slice(7) : remote;
}

/**
 * Of the authenticated links, the one to close to make room for a newcomer:
 * the least recently active inbound link that is neither a configured peer
 * nor active within `activeWindowMs` of `now`; undefined when none qualifies.
 */
export function pickEviction<T extends { lastActive: number; protected: boolean }>(
  links: Iterable<T>,
  now: number,
  activeWindowMs: number,
): T | undefined {
  let victim: T | undefined;
  for (const link of links) {
    if (link.protected || now - link.lastActive < activeWindowMs) continue;
    if (!victim || link.lastActive < victim.lastActive) victim = link;
  }
  return victim;
}

interface DialTarget {
  url: string;
  /** Stops this target's redials ({@link PeerHub.forget}). */
  stop: AbortController;
  state: DialState;
  peerId?: string;
  error?: string;
  link?: WsLink;
  /** Ends the current backoff wait early ({@link PeerHub.redial}). */
  wake?: () => void;
}

/** What {@link PeerHub.listen} bound. */
export interface Listening {
  /** The host it was asked to bind. */
  hostname: string;
  /** The port bound (the real one when 0 was asked for). */
  port: number;
  /** `ws://host:port`. */
  url: string;
}

let wsPackage: Promise<typeof import("ws")> | undefined;

/**
 * npm:ws, loaded when a hub first listens or dials: a process that only
 * reads the peer stack's helpers (a command line, an offline command) never
 * pays for it (docs/bench-cli.md).
 */
function loadWs(): Promise<typeof import("ws")> {
  wsPackage ??= import("ws");
  return wsPackage;
}

/** The WebSocket peer network of one agent. */
export class PeerHub implements PeerNetwork {
  readonly selfId: string;
  #opts: PeerHubOptions;
  #log: Logger;
  #links = new Set<WsLink>();
  /** Remote address of each inbound link, and how many inbound links each address holds. */
  #inboundAddress = new Map<WsLink, string>();
  #perAddress = new Map<string, number>();
  /** Links closed to make room whose sockets have not closed yet: they no longer hold a slot. */
  #evicted = new WeakSet<WsLink>();
  #up = new Map<string, WsLink>();
  #targets = new Map<string, DialTarget>();
  /** When each peer last gave a sign of life, for peers whose link went down (ms since the epoch). */
  #heardAt = new Map<string, number>();
  #listeners = new Set<(event: PeerEvent) => void>();
  #datagramListeners = new Set<DatagramListener>();
  #scores = new Map<string, number>();
  #server?: WebSocketServer;
  #stop = new AbortController();

  /** A hub that neither listens nor dials until told to. */
  constructor(options: PeerHubOptions) {
    this.#opts = options;
    this.selfId = options.identity.id;
    this.#log = options.log ?? (() => {});
  }

  /** Starts accepting peers on `hostname:port` (port 0 picks a free one). */
  async listen(hostname: string, port: number): Promise<Listening> {
    const { WebSocketServer } = await loadWs();
    return await new Promise((resolve, rejectListen) => {
      const server = new WebSocketServer({
        host: hostname,
        port,
        maxPayload: maxRecordBytes(this.#maxFrame()),
        perMessageDeflate: false,
      });
      server.once(
        "error",
        (err: Error) =>
          rejectListen(new PeerError(`Cannot listen on ${hostname}:${port}: ${oneLine(err)}`)),
      );
      server.once("listening", () => {
        server.on(
          "error",
          (err: Error) => this.#log("error", "listener-error", { why: oneLine(err) }),
        );
        const address = server.address();
        const bound = typeof address === "object" && address ? address.port : port;
        const host = hostname.includes(":") ? `[${hostname}]` : hostname;
        resolve({ hostname, port: bound, url: `ws://${host}:${bound}` });
      });
      server.on(
        "connection",
        (ws: WebSocket, req: { socket?: { remoteAddress?: string } }) =>
          this.#accept(ws, addressKey(req?.socket?.remoteAddress)),
      );
      this.#server = server;
    });
  }

  /** Peers connected and authenticated right now. */
  connected(): PeerInfo[] {
    return [...this.#up.values()].map((link) => link.peer!);
  }

  /** Sends `parms` to peer `id`; resolves with its reply or a reject (never throws). */
  request(id: string, parms: Parms, options: RequestOptions = {}): Promise<Parms> {
    const link = this.#up.get(id);
    if (!link) return Promise.resolve(reject("peer", `Peer "${id}" is not connected`));
    return link.request(parms, options);
  }

  /** Sends peer `id` one datagram on `channel`; false when it was dropped (no link, congested). */
  sendDatagram(id: string, channel: number, bytes: Uint8Array): boolean {
    return this.#up.get(id)?.sendDatagram(channel, bytes) ?? false;
  }

  /** Listens for datagrams from peers. */
  onDatagram(listener: DatagramListener): () => void {
    this.#datagramListeners.add(listener);
    return () => this.#datagramListeners.delete(listener);
  }

  /** The IP address peer `id`'s link comes from, if connected. */
  remoteAddress(id: string): string | undefined {
    return this.#up.get(id)?.addresses.remote;
  }

  /** When peer `id` last gave a sign of life (ms since the epoch), if ever. */
  lastHeard(id: string): number | undefined {
    const link = this.#up.get(id);
    if (link) return Date.now() - (performance.now() - link.lastHeard);
    return this.#heardAt.get(id);
  }

  /** The URL told to peers in later handshakes (`--advertise auto` follows address changes). */
  setAdvertise(url: string | undefined): void {
    this.#opts = { ...this.#opts, advertise: url };
  }

  /** Dials `url` now and keeps it up. Dialling a URL already dialled does nothing. */
  dial(url: string): void {
    if (this.#stop.signal.aborted || this.#targets.has(url)) return;
    const target: DialTarget = { url, stop: new AbortController(), state: "connecting" };
    this.#targets.set(url, target);
    this.#dialLoop(target).catch((err) => {
      this.#log("error", "dialer-crashed", { url, why: oneLine(err) });
    });
  }

  /**
   * Stops redialling `url` (a member moved to another URL). A link it holds
   * stays up while it is in use; only the redials end.
   */
  forget(url: string): void {
    const target = this.#targets.get(url);
    if (!target) return;
    this.#targets.delete(url);
    target.stop.abort();
  }

  /**
   * Dials `url` now if it waits out a backoff: something said the peer is
   * back (its news reached us through another member). The backoff itself
   * is kept, so a peer still away is not hammered.
   */
  redial(url: string): void {
    this.#targets.get(url)?.wake?.();
  }

  /** Closes every link held from local address `address` (gone from this host); they redial. */
  dropLinksFrom(address: string): void {
    for (const link of this.#links) {
      if (link.addresses.local === address) link.close(CLOSE_CODES.tryAgain, "Local address gone");
    }
  }

  /** Subscribes to peers coming up and going down. */
  onChange(listener: (event: PeerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds `delta` to a peer's score (kept promise +1, broken promise negative). */
  adjustScore(id: string, delta: number): number {
    const score = (this.#scores.get(id) ?? 0) + delta;
    this.#scores.set(id, score);
    return score;
  }

  /** A peer's score (0 if never scored). */
  score(id: string): number {
    return this.#scores.get(id) ?? 0;
  }

  /** Every dialled URL and every connected peer, for `grid peers list`. */
  table(): PeerRow[] {
    const rows: PeerRow[] = [];
    const listed = new Set<string>();
    for (const t of this.#targets.values()) {
      const upLink = t.peerId ? this.#up.get(t.peerId) : undefined;
      const state: DialState = t.state === "standby" && upLink ? "up" : t.state;
      const direction = upLink && upLink.role === "listener" ? "in" : "out";
      if (t.peerId && upLink) listed.add(t.peerId);
      rows.push({
        url: t.url,
        id: t.peerId ?? null,
        state,
        direction,
        score: t.peerId ? this.score(t.peerId) : 0,
        error: state === "up" ? null : t.error ?? null,
      });
    }
    for (const [id, link] of this.#up) {
      if (listed.has(id)) continue;
      rows.push({
        url: link.peer!.advertise ?? link.peer!.url ?? null,
        id,
        state: "up",
        direction: link.peer!.direction,
        score: this.score(id),
        error: null,
      });
    }
    return rows;
  }

  /** Closes every link and the listener, and stops dialling. */
  async close(): Promise<void> {
    this.#stop.abort();
    for (const link of this.#links) link.close(CLOSE_CODES.normal, "Agent stopping");
    await Promise.all([...this.#links].map((l) => l.closed));
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #maxFrame(): number {
    return this.#opts.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes;
  }

  #linkHandler(): LinkHandler {
    return (parms, { peer, hops }) =>
      this.#opts.handler(parms, { origin: `peer:${peer.id}`, hops });
  }

  #newLink(ws: WebSocket, role: "dialer" | "listener", url?: string): WsLink {
    const link = new WsLink(ws, {
      role,
      url,
      identity: this.#opts.identity,
      handler: this.#linkHandler(),
      advertise: this.#opts.advertise,
      maxFrameBytes: this.#maxFrame(),
      maxInFlight: this.#opts.maxInFlight,
      handshakeTimeoutMs: this.#opts.handshakeTimeoutMs,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      maxQueuedBytes: this.#opts.maxQueuedBytes,
      pingIntervalMs: this.#opts.pingIntervalMs,
      deadAfterMs: this.#opts.deadAfterMs,
      onDatagram: (peer, channel, bytes) => {
        // Only the link the hub holds for the peer delivers: a duplicate about to close does not.
        if (this.#up.get(peer.id) !== link) return;
        for (const listener of this.#datagramListeners) listener(peer.id, channel, bytes);
      },
      log: this.#log,
    });
    this.#links.add(link);
    link.ready.then((peer) => this.#onUp(link, peer), () => {});
    link.closed.then(({ code, reason }) => this.#onClosed(link, code, reason));
    return link;
  }

  #dialing = 0;
  readonly #dialWaiters: (() => void)[] = [];

  /**
   * Waits for one of {@link CONNECTION_DEFAULTS}.maxDialing outbound
   * handshake slots, first come first served; resolves with its release
   * (idempotent), or undefined when `signal` aborts first.
   */
  async #dialSlot(signal: AbortSignal): Promise<(() => void) | undefined> {
    if (signal.aborted) return undefined;
    if (this.#dialing >= this.#limit("maxDialing")) {
      // A freed slot is handed to the first waiter: it wakes holding it.
      const got = await new Promise<boolean>((resolve) => {
        const handOver = () => {
          signal.removeEventListener("abort", abandon);
          resolve(true);
        };
        const abandon = () => {
          const i = this.#dialWaiters.indexOf(handOver);
          if (i >= 0) this.#dialWaiters.splice(i, 1);
          resolve(false);
        };
        this.#dialWaiters.push(handOver);
        signal.addEventListener("abort", abandon, { once: true });
      });
      if (!got) return undefined;
    } else {
      this.#dialing++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#dialWaiters.shift();
      if (next) next(); // the slot passes on: the count stays
      else this.#dialing--;
    };
  }

  #limit(name: keyof typeof CONNECTION_DEFAULTS): number {
    return this.#opts[name] ?? CONNECTION_DEFAULTS[name];
  }

  #accept(ws: WebSocket, address: string): void {
    if (this.#stop.signal.aborted) return refuse(ws, "Agent stopping");
    const perAddress = this.#limit("maxPerAddress");
    const held = this.#perAddress.get(address) ?? 0;
    if (held >= perAddress) {
      this.#log("warn", "peer-refused", {
        address,
        why: `address limit ${perAddress} reached`,
      });
      refuse(ws, `Too many connections from your address (limit ${perAddress})`);
      return;
    }
    // Sockets still proving their keys have a budget of their own; when it is full the
    // oldest one makes room, so sockets that never finish cannot lock newcomers out.
    const handshaking = [...this.#inboundAddress.keys()].filter((l) =>
      !l.verified && l.open && !this.#evicted.has(l)
    );
    const budget = this.#limit("maxHandshaking");
    if (handshaking.length >= budget) {
      this.#log("warn", "peer-evicted", {
        address: this.#inboundAddress.get(handshaking[0]),
        why: `handshake budget ${budget} full`,
      });
      this.#evicted.add(handshaking[0]);
      handshaking[0].close(CLOSE_CODES.tryAgain, "Too many connections in the handshake");
    }
    this.#perAddress.set(address, held + 1);
    const link = this.#newLink(ws, "listener");
    this.#inboundAddress.set(link, address);
  }

  /** True for links to peers we dial (configured in the peers file or by `peers add`). */
  #isConfigured(link: WsLink): boolean {
    if (link.role === "dialer") return true;
    const id = link.peer?.id;
    if (id === undefined) return false;
    for (const t of this.#targets.values()) if (t.peerId === id) return true;
    return false;
  }

  /** Makes room for `link` when the authenticated links are at the limit; false if none. */
  #makeRoom(link: WsLink): boolean {
    const limit = this.#limit("maxConnections");
    const up = [...this.#up.values()].filter((l) => l !== link && l.open && !this.#evicted.has(l));
    if (up.length < limit) return true;
    const now = performance.now();
    const victim = pickEviction(
      up.map((l) => ({ link: l, lastActive: l.lastActive, protected: this.#isConfigured(l) })),
      now,
      this.#limit("activeWindowMs"),
    );
    if (victim) {
      const idleMs = Math.round(now - victim.link.lastActive);
      this.#log("warn", "peer-evicted", { peer: victim.link.peer?.id, why: "slots full", idleMs });
      this.#evicted.add(victim.link);
      victim.link.close(CLOSE_CODES.tryAgain, `Evicted: connection slots full, idle ${idleMs} ms`);
      return true;
    }
    // Our own dialled peers always get their link; a stranger waits for a free slot.
    return this.#isConfigured(link);
  }

  #onUp(link: WsLink, peer: PeerInfo): void {
    if (!link.open) return;
    const existing = this.#up.get(peer.id);
    if (existing && existing !== link && existing.open) {
      // A link that has not heard from its peer for two ping intervals may be dead (the
      // peer moved, the path dropped): the fresh, proven one takes its place. A live link
      // hears from its peer at least every one and a half intervals (_liveness.ts).
      // So may one from an address the peer no longer uses: a fresh link from another
      // address means the peer moved.
      const interval = this.#opts.pingIntervalMs ?? LINK_DEFAULTS.pingIntervalMs;
      const [was, now] = [existing.addresses.remote, link.addresses.remote];
      const moved = was !== undefined && now !== undefined && was !== now;
      const stale = moved ||
        performance.now() - existing.lastHeard > STALE_AFTER_INTERVALS * interval;
      const keep = stale ? "incoming" : keepLink(this.selfId, peer.id, existing.role, link.role);
      const loser = keep === "existing" ? link : existing;
      this.#log("debug", "peer-duplicate", { peer: peer.id, closing: loser.role });
      if (keep === "existing") return link.close(CLOSE_CODES.duplicate, "Duplicate connection");
      this.#up.set(peer.id, link);
      if (stale) {
        this.#log("info", "peer-link-replaced", { peer: peer.id, why: "the old link went silent" });
      }
      existing.close(
        CLOSE_CODES.duplicate,
        stale ? "Replaced by a fresh link" : "Duplicate connection",
      );
      return;
    }
    if (!this.#makeRoom(link)) {
      const limit = this.#limit("maxConnections");
      this.#log("warn", "peer-refused", {
        peer: peer.id,
        why: `connection limit ${limit} reached`,
      });
      return link.close(CLOSE_CODES.tryAgain, `Too many connections (limit ${limit})`);
    }
    this.#up.set(peer.id, link);
    this.#log("info", "peer-up", { peer: peer.id, direction: peer.direction, url: peer.url });
    this.#emit({ type: "up", peer });
  }

  #onClosed(link: WsLink, code: number, reason: string): void {
    this.#links.delete(link);
    const address = this.#inboundAddress.get(link);
    if (address !== undefined) {
      this.#inboundAddress.delete(link);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    }
    const peer = link.peer;
    if (!peer || this.#up.get(peer.id) !== link) return;
    this.#up.delete(peer.id);
    if (this.#heardAt.size > 4096) this.#heardAt.clear(); // bounded: strangers come and go
    this.#heardAt.set(peer.id, Date.now() - (performance.now() - link.lastHeard));
    this.#log(code === CLOSE_CODES.duplicate ? "debug" : "info", "peer-down", {
      peer: peer.id,
      code,
      reason: reason || undefined,
    });
    this.#emit({ type: "down", peer });
  }

  #emit(event: PeerEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#log("error", "peer-listener-failed", { why: oneLine(err) });
      }
    }
  }

  async #dialLoop(target: DialTarget): Promise<void> {
    const { WebSocket } = await loadWs();
    const signal = AbortSignal.any([this.#stop.signal, target.stop.signal]);
    const backoff = this.#opts.backoff ?? DEFAULT_BACKOFF;
    let attempt = 0;
    let reported = false;
    while (!signal.aborted) {
      const other = target.peerId ? this.#up.get(target.peerId) : undefined;
      if (other) {
        // The peer is connected over another link: wait until it goes down.
        target.state = "standby";
        await this.#waitDown(target.peerId!, signal);
        continue;
      }
      target.state = "connecting";
      const release = await this.#dialSlot(signal);
      if (!release) break;
      const ws = new WebSocket(target.url, {
        maxPayload: maxRecordBytes(this.#maxFrame()),
        perMessageDeflate: false,
        handshakeTimeout: this.#opts.handshakeTimeoutMs ?? LINK_DEFAULTS.handshakeTimeoutMs,
      });
      const link = this.#newLink(ws, "dialer", target.url);
      target.link = link;
      link.ready.then(release, release);
      try {
        const peer = await link.ready;
        const upAt = performance.now();
        target.peerId = peer.id;
        target.state = "up";
        target.error = undefined;
        reported = false;
        const { code, reason } = await link.closed;
        if (code !== CLOSE_CODES.duplicate) target.error = `closed ${code} ${reason}`.trim();
        // Only a link that stayed up resets the backoff: one refused or cut at once does not.
        if (performance.now() - upAt >= STABLE_LINK_MS) attempt = 0;
      } catch (err) {
        target.error = oneLine(err);
        await link.closed;
        if (/own node id/.test(target.error)) {
          target.state = "self";
          this.#log("warn", "peer-dial-self", { url: target.url });
          return;
        }
        // The first failure in a row says why, once; the retries are quiet.
        this.#log(reported ? "debug" : "info", "peer-dial-failed", {
          url: target.url,
          why: target.error,
        });
        reported = true;
      }
      if (signal.aborted) break;
      target.state = "backoff";
      const wake = new AbortController();
      target.wake = () => wake.abort();
      await sleep(
        backoffDelay(attempt++, backoff, Math.random()),
        AbortSignal.any([signal, wake.signal]),
      );
      target.wake = undefined;
    }
    target.state = "stopped";
  }

  #waitDown(id: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        off();
        signal.removeEventListener("abort", done);
        resolve();
      };
      const off = this.onChange((e) => {
        if (e.type === "down" && e.peer.id === id) done();
      });
      if (signal.aborted || !this.#up.has(id)) return done();
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** Closes a socket we never wrap in a link; one that ignores the close is cut off after 2 s. */
function refuse(ws: WebSocket, reason: string): void {
  ws.close(CLOSE_CODES.tryAgain, reason);
  const timer = setTimeout(() => ws.terminate(), 2_000);
  ws.once("close", () => clearTimeout(timer));
}

/** Waits `ms`, or less when `signal` aborts first; never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
