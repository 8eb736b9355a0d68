/**
 * The relay switch: carries WireGuard packets between two members that
 * cannot reach each other, as link datagrams, over the authenticated grid
 * links this node holds to both. The packets are WireGuard's own ciphertext:
 * this node can neither read nor alter them undetected, only drop them.
 *
 * A circuit has a number, chosen by the member that asked for it; the relay
 * holds one leg per end (`from/number → to/number`) and forwards a datagram
 * only on a leg it agreed to. A circuit may also end here: then it is one
 * end of the pair's own path, and its datagrams go to a local handler (the
 * UDP proxy WireGuard sends to). Relaying is bounded: one circuit per pair
 * (a new one replaces the old), a number of circuits and a quarter of them
 * per member asking, bytes per second over all of them (a token bucket)
 * shared fairly among the circuits when it runs low; past any, new circuits are refused and
 * packets dropped, as a congested path would. Circuits idle for a while, or
 * whose ends are no longer live members, are dropped.
 *
 * @module
 */
import type { Logger, PeerNetwork, RelayPolicy } from "../../kernel/mod.ts";
import type { RelayStatus } from "./protocol.ts";

/** What a node relays for others (the agent's {@link RelayPolicy}). */
export type RelayLimits = RelayPolicy;

/** Default {@link RelayLimits}: 32 circuits, 100 Mbit/s. */
export const RELAY_DEFAULTS: Readonly<RelayLimits> = {
  enabled: true,
  maxCircuits: 32,
  maxBytesPerSecond: 12_500_000,
};

/** A circuit between two other nodes, as the relay holds it (one object, both legs). */
interface Circuit {
  /** Net id the circuit serves. */
  readonly net: string;
  /** Its ends. */
  readonly a: string;
  readonly b: string;
  /** The circuit number. */
  readonly circuit: number;
  /** The end that asked for it. */
  readonly by: string;
  /** When a packet last crossed it (ms). */
  used: number;
  /** Its share of the byte rate: tokens and when they were counted. */
  tokens: number;
  refilled: number;
}

/** The ends of a circuit this node forwards, by net, when a link goes down. */
export interface ClosedCircuit {
  /** Net id. */
  readonly net: string;
  /** The end still connected, to be told. */
  readonly other: string;
  /** The end that went away. */
  readonly gone: string;
  /** The circuit number. */
  readonly circuit: number;
}

/** Forwards circuits between other nodes and delivers the ones that end here. */
export class RelaySwitch {
  readonly #peers: PeerNetwork;
  readonly #limits: RelayLimits;
  readonly #log: Logger;
  readonly #now: () => number;
  /** `end/circuit` → the circuit, for both ends. */
  readonly #legs = new Map<string, Circuit>();
  /** `net/a/b` (ends sorted) → the pair's one circuit. */
  readonly #pairs = new Map<string, Circuit>();
  /** `via/circuit` → the local handler of a circuit that ends here. */
  readonly #ends = new Map<string, (bytes: Uint8Array) => void>();
  #tokens: number;
  #refilled: number;
  #bytes = 0;
  #dropped = 0;
  #droppedLoggedAt = 0;
  readonly #off: () => void;

  /** A switch on `peers`; it listens for datagrams until {@link RelaySwitch.close}. */
  constructor(
    peers: PeerNetwork,
    limits: RelayLimits = RELAY_DEFAULTS,
    log: Logger = () => {},
    now: () => number = Date.now,
  ) {
    this.#peers = peers;
    this.#limits = limits;
    this.#log = log;
    this.#now = now;
    this.#tokens = limits.maxBytesPerSecond;
    this.#refilled = now();
    this.#off = peers.onDatagram((from, circuit, bytes) => this.#receive(from, circuit, bytes));
  }

  /** Stops listening. */
  close(): void {
    this.#off();
  }

  /** Whether relaying for others is on. */
  get enabled(): boolean {
    return this.#limits.enabled;
  }

  /** Circuits forwarded now. */
  get circuits(): number {
    return this.#pairs.size;
  }

  /** Most circuits one member may ask for: a quarter of them, at least 4. */
  get perMember(): number {
    return Math.max(4, Math.ceil(this.#limits.maxCircuits / 4));
  }

  /**
   * Why member `by` cannot have circuit `circuit` to `to` in net `net` now,
   * or undefined when it can. A pair has one circuit: a new one replaces the
   * old, so it counts against no limit.
   */
  refuses(net: string, by: string, to: string, circuit: number): string | undefined {
    if (!this.#limits.enabled) return "This node does not relay (--no-relay)";
    const old = this.#pairs.get(pairKey(net, by, to));
    const taken = (end: string) => {
      const c = this.#legs.get(`${end}/${circuit}`);
      return c !== undefined && c !== old;
    };
    if (taken(by) || taken(to)) return `Circuit ${circuit} is taken here; pick another number`;
    if (old) return undefined;
    if (this.circuits >= this.#limits.maxCircuits) {
      return `This node relays at most ${this.#limits.maxCircuits} circuits`;
    }
    const mine = [...this.#pairs.values()].filter((c) => c.by === by).length;
    if (mine >= this.perMember) {
      return `This node relays at most ${this.perMember} circuits for one member`;
    }
    return undefined;
  }

  /**
   * Carries circuit `circuit` between `by` (who asked) and `to` for net
   * `net`, replacing the pair's old circuit (check {@link refuses} first).
   */
  open(net: string, by: string, to: string, circuit: number): void {
    const old = this.#pairs.get(pairKey(net, by, to));
    if (old) this.#remove(old);
    const now = this.#now();
    const tokens = this.#limits.maxBytesPerSecond; // capped to its share at the first packet
    const c: Circuit = { net, a: by, b: to, circuit, by, used: now, tokens, refilled: now };
    this.#legs.set(`${by}/${circuit}`, c);
    this.#legs.set(`${to}/${circuit}`, c);
    this.#pairs.set(pairKey(net, by, to), c);
  }

  #remove(c: Circuit): void {
    this.#legs.delete(`${c.a}/${c.circuit}`);
    this.#legs.delete(`${c.b}/${c.circuit}`);
    this.#pairs.delete(pairKey(c.net, c.a, c.b));
  }

  /** Stops carrying the circuit `from` named; returns the other end, if it was carried. */
  closeLeg(from: string, circuit: number): string | undefined {
    const c = this.#legs.get(`${from}/${circuit}`);
    if (!c) return undefined;
    this.#remove(c);
    return c.a === from ? c.b : c.a;
  }

  /** Drops every circuit matching `drop`; returns each end to tell (both, or those `keep` allows). */
  #dropWhere(drop: (c: Circuit) => string[] | undefined): ClosedCircuit[] {
    const out: ClosedCircuit[] = [];
    for (const c of [...this.#pairs.values()]) {
      const gone = drop(c);
      if (!gone) continue;
      this.#remove(c);
      for (const end of [c.a, c.b]) {
        if (gone.includes(end)) continue;
        out.push({ net: c.net, other: end, gone: end === c.a ? c.b : c.a, circuit: c.circuit });
      }
    }
    return out;
  }

  /** Drops every circuit with an end at `node` (its link went down); returns the others to tell. */
  dropNode(node: string): ClosedCircuit[] {
    return this.#dropWhere((c) => (c.a === node || c.b === node ? [node] : undefined));
  }

  /**
   * Drops the circuits of net `net` whose ends are no longer both live
   * (revoked, left; or every circuit of the net when `selfLive` is false).
   * Returns the live ends to tell.
   */
  prune(net: string, isLive: (id: string) => boolean, selfLive = true): ClosedCircuit[] {
    return this.#dropWhere((c) => {
      if (c.net !== net) return undefined;
      const dead = [c.a, c.b].filter((e) => !selfLive || !isLive(e));
      return dead.length > 0 ? dead : undefined;
    });
  }

  /** Drops circuits that carried nothing for `idleMs` (both ends gone quiet); returns both ends. */
  expire(idleMs: number): ClosedCircuit[] {
    const now = this.#now();
    return this.#dropWhere((c) => (now - c.used > idleMs ? [] : undefined));
  }

  /** Delivers datagrams of circuit `circuit` via `via` to `deliver` (the circuit ends here). */
  attach(via: string, circuit: number, deliver: (bytes: Uint8Array) => void): void {
    this.#ends.set(`${via}/${circuit}`, deliver);
  }

  /** Stops delivering circuit `circuit` via `via`. */
  detach(via: string, circuit: number): void {
    this.#ends.delete(`${via}/${circuit}`);
  }

  /** Whether circuit `circuit` via `via` ends here. */
  ends(via: string, circuit: number): boolean {
    return this.#ends.has(`${via}/${circuit}`);
  }

  /** Sends one packet of a circuit that ends here to `via`. */
  send(via: string, circuit: number, bytes: Uint8Array): boolean {
    return this.#peers.sendDatagram(via, circuit, bytes);
  }

  /** The relay's counters for `grid status`. */
  status(): RelayStatus {
    return {
      enabled: this.#limits.enabled,
      circuits: this.circuits,
      maxCircuits: this.#limits.maxCircuits,
      bytes: this.#bytes,
      dropped: this.#dropped,
    };
  }

  #receive(from: string, circuit: number, bytes: Uint8Array): void {
    const end = this.#ends.get(`${from}/${circuit}`);
    if (end) return end(bytes);
    const c = this.#legs.get(`${from}/${circuit}`);
    if (!c) return this.#drop(from, circuit, "no such circuit");
    const to = c.a === from ? c.b : c.a;
    if (!this.#spend(c, bytes.length) || !this.#peers.sendDatagram(to, circuit, bytes)) {
      return this.#drop(from, circuit, "over the rate or congested");
    }
    c.used = this.#now();
    this.#bytes += bytes.length;
  }

  /**
   * Takes `n` bytes from the relay's rate budget (refilled continuously, at
   * most a second's worth). While more than half of it is left, any circuit
   * may use it; below that, each circuit only its fair share (the rate
   * divided among the circuits), so one busy pair cannot starve the others
   * but a lone one runs at the full rate.
   */
  #spend(c: Circuit, n: number): boolean {
    const now = this.#now();
    const rate = this.#limits.maxBytesPerSecond;
    const share = rate / Math.max(1, this.circuits);
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilled) / 1000) * rate);
    this.#refilled = now;
    c.tokens = Math.min(share, c.tokens + ((now - c.refilled) / 1000) * share);
    c.refilled = now;
    if (this.#tokens < n) return false;
    const contended = this.#tokens < rate / 2;
    if (contended && c.tokens < n) return false;
    this.#tokens -= n;
    c.tokens = Math.max(0, c.tokens - n);
    return true;
  }

  #drop(from: string, circuit: number, why: string): void {
    this.#dropped++;
    const now = this.#now();
    if (now - this.#droppedLoggedAt < 60_000) return; // one line a minute, whatever the flood
    this.#droppedLoggedAt = now;
    this.#log("info", "relay-dropped", { peer: from, circuit, why, total: this.#dropped });
  }
}

/** The key of a pair's circuit in a net: the ends sorted. */
function pairKey(net: string, a: string, b: string): string {
  return a < b ? `${net}/${a}/${b}` : `${net}/${b}/${a}`;
}
