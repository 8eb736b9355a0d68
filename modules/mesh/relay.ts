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
 * UDP proxy WireGuard sends to). Relaying is bounded: a number of circuits,
 * and bytes per second over all of them (a token bucket); past either, new
 * circuits are refused and packets dropped, as a congested path would.
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

/** One end of a circuit between two other nodes, as the relay holds it. */
interface Leg {
  /** Net id the circuit serves. */
  readonly net: string;
  /** The node at the other end. */
  readonly to: string;
  /** The circuit number. */
  readonly circuit: number;
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
  /** `from/circuit` → the leg to send on. */
  readonly #legs = new Map<string, Leg>();
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

  /** Circuits forwarded now (each counts once, not per leg). */
  get circuits(): number {
    return this.#legs.size / 2;
  }

  /** Why a circuit between `a` and `b` cannot be carried now, or undefined when it can. */
  refuses(a: string, b: string, circuit: number): string | undefined {
    if (!this.#limits.enabled) return "This node does not relay (--no-relay)";
    if (this.#legs.has(`${a}/${circuit}`) || this.#legs.has(`${b}/${circuit}`)) {
      return `Circuit ${circuit} is taken here; pick another number`;
    }
    if (this.circuits >= this.#limits.maxCircuits) {
      return `This node relays at most ${this.#limits.maxCircuits} circuits`;
    }
    return undefined;
  }

  /** Carries circuit `circuit` between `a` and `b` for net `net` (check {@link refuses} first). */
  open(net: string, a: string, b: string, circuit: number): void {
    this.#legs.set(`${a}/${circuit}`, { net, to: b, circuit });
    this.#legs.set(`${b}/${circuit}`, { net, to: a, circuit });
  }

  /** Stops carrying the circuit `from` named; returns the other end, if it was carried. */
  closeLeg(from: string, circuit: number): string | undefined {
    const leg = this.#legs.get(`${from}/${circuit}`);
    if (!leg) return undefined;
    this.#legs.delete(`${from}/${circuit}`);
    this.#legs.delete(`${leg.to}/${circuit}`);
    return leg.to;
  }

  /** Drops every circuit with an end at `node` (its link went down); returns the others to tell. */
  dropNode(node: string): ClosedCircuit[] {
    const out: ClosedCircuit[] = [];
    for (const [key, leg] of [...this.#legs]) {
      const slash = key.lastIndexOf("/");
      if (key.slice(0, slash) !== node) continue;
      this.#legs.delete(key);
      this.#legs.delete(`${leg.to}/${leg.circuit}`);
      out.push({ net: leg.net, other: leg.to, gone: node, circuit: leg.circuit });
    }
    return out;
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
    const leg = this.#legs.get(`${from}/${circuit}`);
    if (!leg || !this.#spend(bytes.length) || !this.#peers.sendDatagram(leg.to, circuit, bytes)) {
      this.#drop(from, circuit, leg ? "over the rate or congested" : "no such circuit");
      return;
    }
    this.#bytes += bytes.length;
  }

  /** Takes `n` bytes from the rate budget (refilled continuously, at most one second's worth). */
  #spend(n: number): boolean {
    const now = this.#now();
    const rate = this.#limits.maxBytesPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilled) / 1000) * rate);
    this.#refilled = now;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
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
