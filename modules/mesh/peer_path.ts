/**
 * How this node reaches one peer over WireGuard, as a state machine with no
 * effects, so every rule is unit-tested with a clock in hand.
 *
 * Of each pair the node with the smaller id **arranges** the path (the
 * other **follows** what it is told), so the two never race:
 *
 * 1. `direct`: the peer's announced endpoint gets {@link PATH_TIMERS}.directMs
 *    for a handshake (a reachable peer answers in milliseconds).
 * 2. `punch`: both ends are told each other's observed public endpoints at
 *    the same moment by a member in touch with both (the helper); the
 *    follower sends at once, the arranger {@link PATH_TIMERS}.staggerMs later,
 *    so the follower's NAT is open when the arranger's handshake arrives.
 *    Skipped when either NAT is known to be symmetric.
 * 3. `relay`: WireGuard's own encrypted packets go through a member linked to
 *    both ends (or over the pair's own grid link), which cannot read them.
 * 4. While relayed, a direct path is tried again now and then (`upgrade`,
 *    backing off up to {@link PATH_TIMERS}.upgradeMaxMs, straight to it when
 *    no punch is possible), keeping the relay until traffic is seen on the
 *    direct path.
 *
 * A path that has received nothing for {@link PATH_TIMERS}.staleMs (peers send
 * a keepalive every 25 s) is dead and found again; when everything failed,
 * the path is `unreachable`, with the reason, and starts over later, waiting
 * twice as long after each failure in a row (up to 5 minutes), unless the
 * peer reaches us by itself meanwhile.
 *
 * @module
 */
import { isLoopbackEndpoint } from "../wireguard/mod.ts";

/** The path timers, in ms. */
export interface PathTimers {
  /** The announced endpoint gets this long for a handshake. */
  directMs: number;
  /** A punch gets this long for a handshake. */
  punchMs: number;
  /** A new relay circuit gets this long for a handshake. */
  relayMs: number;
  /** A path that received nothing for this long is dead. */
  staleMs: number;
  /** After everything failed, start over this long later. */
  retryMs: number;
  /** While relayed, try a direct path again after this long (doubling per failure). */
  upgradeMs: number;
  /** Longest wait between direct tries while relayed. */
  upgradeMaxMs: number;
  /** A try to go direct must see traffic on the direct path within this long. */
  confirmMs: number;
  /** The arranger sends its punch this long after the follower. */
  staggerMs: number;
}

/** Default {@link PathTimers}. */
export const PATH_TIMERS: Readonly<PathTimers> = {
  directMs: 5_000,
  punchMs: 8_000,
  relayMs: 8_000,
  staleMs: 45_000,
  retryMs: 15_000,
  upgradeMs: 60_000,
  upgradeMaxMs: 600_000,
  confirmMs: 3_000,
  staggerMs: 1_000,
};

/** A session this recent at start counts as a working path. */
const FRESH_SESSION_MS = 120_000;
/** An action the service has not answered within this long is given up. */
const ACTION_TIMEOUT_MS = 30_000;
/** A follower told to go direct reverts to the relay if no verdict comes within this long. */
const VERDICT_WAIT_MS = 10_000;
/** The longest wait between tries of an unreachable path. */
const RETRY_MAX_MS = 300_000;
/** News that a member came up moves an unreachable path's retry forward at most this often. */
const RETRY_SOON_MS = 10_000;
/** On a retry after everything failed, the announced endpoint gets this long. */
const RETRY_DIRECT_MS = 2_000;
/**
 * The longest a direct try waits for the peer to hold this node's admit
 * before its own {@link PathTimers}.directMs start anyway (a peer with no
 * grid link to this node never says).
 */
export const UNKNOWN_PEER_WAIT_MS = 20_000;
/** A follower with no packets this long says unreachable (its arranger tries direct, punch, relay). */
const FOLLOWER_PATIENCE_MS = 25_000;

/** Which end of the pair: the smaller node id arranges. */
export type PathRole = "arranger" | "follower";

/** Where a path stands. */
export type PathStage = "direct" | "punch" | "punched" | "relay" | "upgrade" | "unreachable";

/** What `grid status` says of a peer's path. */
export type PathName = "direct" | "punched" | "relay" | "connecting" | "unreachable";

/** What WireGuard says of the peer now. */
export interface PathFacts {
  /** When the latest handshake completed (ms since the epoch), 0 if never. */
  handshakeAt: number;
  /** When a packet from the peer last arrived (its received bytes grew), 0 if never. */
  heardAt: number;
  /** WireGuard's endpoint for the peer now. */
  endpoint?: string;
  /** Whether a punch is worth trying: both ends have observed endpoints, neither NAT is symmetric. */
  canPunch: boolean;
  /**
   * Whether the peer is known to hold this node's admit (it had the same
   * records at an exchange). Until it does, it drops this node's handshakes
   * whatever the path, so the direct try waits for it (up to
   * {@link UNKNOWN_PEER_WAIT_MS}) instead of punching and relaying for
   * nothing. Undefined: not known either way (counts as known).
   */
  knowsUs?: boolean;
}

/** What the service must do; it reports back through the event methods. */
export type PathAction =
  /** Ask a helper to start a punch ({@link PeerPath.punching} or {@link PeerPath.noPunch}). */
  | { kind: "punch"; upgrade: boolean }
  /** The arranger's own punch, `staggerMs` after the go: restart the peer at the candidate. */
  | { kind: "kick"; endpoint: string }
  /**
   * Open a relay circuit ({@link PeerPath.relayed} or {@link PeerPath.noRelay}):
   * through `failed` the circuit carried nothing (skip it a while); through
   * `lost` the circuit went away with its link.
   */
  | { kind: "relay"; failed?: string; lost?: string }
  /** A try to go direct worked: tell the follower, close the relay circuit soon. */
  | { kind: "upgraded" }
  /** A try to go direct failed: back to the relay (move WireGuard, resume it), tell the follower. */
  | { kind: "revert" }
  /** Start over at the announced endpoint (restart the peer so it handshakes at once). */
  | { kind: "restart"; why: "stale" | "retry" };

/** One in-flight or finished punch. */
export interface Punch {
  /** Who told both ends. */
  readonly helper: string;
  /** Its number, so late answers are told apart. */
  readonly attempt: number;
  /** Where this end sends. */
  readonly candidate: string;
  /** When this end sends (the arranger: the go plus the stagger). */
  readonly kickAt: number;
  /** Whether this end has sent. */
  kicked: boolean;
}

/** The relay circuit a path uses. */
export interface RelayCircuit {
  /** The node that carries it (the peer itself over the pair's own grid link). */
  readonly via: string;
  /** The circuit number. */
  readonly circuit: number;
}

/** The path to one peer: see the module doc. */
export class PeerPath {
  /** Which end of the pair this node is. */
  readonly role: PathRole;
  /** Where it stands. */
  stage: PathStage = "direct";
  /** When the stage began (ms since the epoch). */
  since: number;
  /** Whether the stage's path has carried a packet. */
  established = false;
  /** The punch in flight or that made the path. */
  punch?: Punch;
  /** The relay circuit, while relayed (kept during an upgrade). */
  relay?: RelayCircuit;
  /** Why the peer is unreachable, or why the last step failed. */
  why?: string;
  /** Punches that failed in a row (backs off the next try). */
  failures = 0;
  /** When a relayed path next tries to go direct. */
  nextUpgradeAt = 0;
  /** When an unreachable path starts over. */
  retryAt = 0;
  /** Set when the next tick must open a relay circuit (after a failed step, a lost circuit). */
  #wantRelay?: { failed?: string; lost?: string };
  readonly #timers: PathTimers;
  /** An action the service is carrying out, and since when. */
  #busySince = 0;
  /** Since when the path has carried nothing (the stage start, or when it went quiet). */
  #downSince: number;
  /** True while starting over after the path was unreachable. */
  #retrying = false;
  /** Whether the peer was seen not to hold this node's admit yet, and when it first did. */
  #unknownSeen = false;
  #knownAt = 0;
  /** True until the first stage change: a session WireGuard already had counts as a path. */
  #startup = true;
  /** Set when the follower's relay went away, until it is told of a new path. */
  #lost = false;
  /** Whether a punch was possible at the last tick. */
  #canPunch = false;
  /** Times in a row no relay took the pair. */
  #unreachable = 0;
  /** When {@link retrySoon} last moved the retry forward. */
  #retriedSoonAt = -Infinity;

  /** A path that starts `direct` at `now`. */
  constructor(role: PathRole, now: number, timers: PathTimers = PATH_TIMERS) {
    this.role = role;
    this.since = now;
    this.#downSince = now;
    this.#timers = timers;
  }

  /** The endpoint WireGuard should hold for the peer: undefined for the announced one. */
  endpoint(relayEnd?: string): string | undefined {
    switch (this.stage) {
      case "punch": // the announced one until this end sends (the stagger)
        return this.punch?.kicked ? this.punch.candidate : undefined;
      case "upgrade":
        return this.punch?.kicked ? this.punch.candidate : relayEnd;
      case "punched":
        return this.punch?.candidate;
      case "relay":
        return relayEnd;
      default:
        return undefined;
    }
  }

  /** What `grid status` says of it at `now`. */
  describe(now = Date.now()): { path: PathName; via?: string; why?: string } {
    if (
      this.role === "follower" && !this.established && now - this.#downSince > FOLLOWER_PATIENCE_MS
    ) {
      return {
        path: "unreachable",
        why: this.relay
          ? "its relay went away, and the other end (which arranges this pair) has found no new path"
          : "no packets, and the other end (which arranges this pair) has found no path",
      };
    }
    switch (this.stage) {
      case "direct":
        if (this.established) return { path: "direct" };
        if (this.role === "follower") {
          return { path: "connecting", why: "no packets yet; the other end arranges the path" };
        }
        return { path: "connecting", why: "trying its announced endpoint" };
      case "punch":
        return { path: "connecting", why: "punching through NAT" };
      case "punched":
        return { path: this.established ? "punched" : "connecting" };
      case "relay":
      case "upgrade":
        if (this.established) return { path: "relay", via: this.relay?.via };
        return { path: "connecting", via: this.relay?.via, why: "setting up a relay" };
      case "unreachable":
        return { path: "unreachable", why: this.why };
    }
  }

  /** True while an action it asked for is being carried out. */
  get busy(): boolean {
    return this.#busySince !== 0;
  }

  /** Looks at WireGuard's facts at `now`: the next action, if any. */
  tick(f: PathFacts, now: number): PathAction | undefined {
    if (this.#busySince !== 0) {
      if (now - this.#busySince < ACTION_TIMEOUT_MS) return undefined;
      this.#busySince = 0; // never answered: decide again
    }
    return this.role === "arranger" ? this.#arrange(f, now) : this.#follow(f, now);
  }

  #arrange(f: PathFacts, now: number): PathAction | undefined {
    const t = this.#timers;
    this.#canPunch = f.canPunch;
    if (this.#wantRelay) {
      const want = this.#wantRelay;
      this.#wantRelay = undefined;
      return this.#busy(now, { kind: "relay", ...want });
    }
    const heardSince = f.heardAt >= this.since;
    const stale = now - Math.max(f.heardAt, this.since) > t.staleMs;
    switch (this.stage) {
      case "direct": {
        const session = this.#startup && f.handshakeAt > 0 &&
          now - f.handshakeAt < FRESH_SESSION_MS &&
          !(f.endpoint !== undefined && isLoopbackEndpoint(f.endpoint));
        if (!this.established && (heardSince || session)) this.established = true;
        if (this.established) return stale ? this.#restart(now) : undefined;
        // A retry after all failed gives the announced endpoint less time: it failed before.
        const wait = this.#retrying ? Math.min(t.directMs, RETRY_DIRECT_MS) : t.directMs;
        // The wait counts from when the peer holds this node's admit (a burst of joins).
        if (f.knowsUs === false) {
          this.#unknownSeen = true;
          if (now - this.since < UNKNOWN_PEER_WAIT_MS) return undefined;
        } else if (this.#unknownSeen && this.#knownAt === 0) {
          this.#knownAt = now;
        }
        const from = Math.max(this.since, this.#knownAt);
        if (now - from < wait) return undefined;
        this.why = "no handshake at its announced endpoint";
        return this.#busy(now, f.canPunch ? { kind: "punch", upgrade: false } : { kind: "relay" });
      }
      case "punch": {
        if (f.handshakeAt >= this.since) {
          this.#enter("punched", now, true);
          this.failures = 0;
          this.#retrying = false;
          return undefined;
        }
        const p = this.punch!;
        if (!p.kicked && now >= p.kickAt) {
          p.kicked = true;
          return { kind: "kick", endpoint: p.candidate };
        }
        if (now - this.since < t.punchMs) return undefined;
        this.#punchFailed(now, "the punch got no handshake (a NAT mapped or filtered it)");
        return this.#busy(now, { kind: "relay" });
      }
      case "punched":
        if (!this.established && heardSince) this.established = true;
        return stale ? this.#restart(now) : undefined;
      case "relay": {
        if (!this.established && heardSince) this.established = true;
        if (!this.established) {
          if (now - this.since < t.relayMs) return undefined;
          return this.#busy(now, { kind: "relay", failed: this.relay?.via });
        }
        if (stale) return this.#busy(now, { kind: "relay", failed: this.relay?.via });
        // Even a pair that cannot punch tries now and then: one end may be reachable after all
        // (a public node whose NATed peer slept past the direct try), just less often.
        if (now >= this.nextUpgradeAt) {
          return this.#busy(now, { kind: "punch", upgrade: true });
        }
        return undefined;
      }
      case "upgrade": {
        const p = this.punch!;
        if (!p.kicked && now >= p.kickAt) {
          p.kicked = true;
          return { kind: "kick", endpoint: p.candidate };
        }
        if (now < p.kickAt + t.confirmMs) return undefined;
        if (f.endpoint === p.candidate && f.heardAt > p.kickAt) {
          this.#enter("punched", now, true);
          this.failures = 0;
          return { kind: "upgraded" };
        }
        this.#punchFailed(now, "no traffic on the direct path");
        this.#enter("relay", now, true);
        return { kind: "revert" };
      }
      case "unreachable":
        if (f.heardAt > this.since) {
          // A session came up by itself (the peer reached us): keep it, do not restart it.
          this.#enter("direct", now, true);
          return undefined;
        }
        return now >= this.retryAt ? this.#restart(now) : undefined;
    }
  }

  #follow(f: PathFacts, now: number): PathAction | undefined {
    const session = this.#startup && this.stage === "direct" && f.handshakeAt > 0 &&
      now - f.handshakeAt < FRESH_SESSION_MS &&
      !(f.endpoint !== undefined && isLoopbackEndpoint(f.endpoint));
    // Packets since the path last went quiet (not merely since the stage began). After its relay
    // was lost, only a new handshake counts: a late count of packets from before the loss does not.
    const heard = this.#lost ? f.handshakeAt > this.#downSince : f.heardAt > this.#downSince;
    if (!this.established && (heard || session)) this.established = true;
    if (this.established && now - Math.max(f.heardAt, this.since) > this.#timers.staleMs) {
      this.established = false; // the arranger finds a new path; status says so meanwhile
      this.#downSince = now;
    }
    if (this.stage === "upgrade" && now - this.since > this.#timers.confirmMs + VERDICT_WAIT_MS) {
      this.#enter("relay", now, true); // the arranger never said: the relay still works
      return { kind: "revert" };
    }
    if (this.stage === "punch" && this.established) this.#enter("punched", now, true);
    return undefined;
  }

  /** Back to the announced endpoint (the service closes the relay circuit, if any, and clears it). */
  #restart(now: number): PathAction {
    const why = this.stage === "unreachable" ? "retry" : "stale";
    this.#retrying = why === "retry";
    this.#enter("direct", now, false);
    this.punch = undefined;
    return { kind: "restart", why };
  }

  #punchFailed(now: number, why: string): void {
    this.failures++;
    this.why = why;
    const t = this.#timers;
    // No punch possible (a NAT known to be symmetric): the longest wait before the next try.
    const wait = this.#canPunch
      ? Math.min(t.upgradeMs * 2 ** (this.failures - 1), t.upgradeMaxMs)
      : t.upgradeMaxMs;
    this.nextUpgradeAt = now + wait;
  }

  #busy(now: number, action: PathAction): PathAction {
    this.#busySince = now;
    return action;
  }

  #enter(stage: PathStage, now: number, established: boolean): void {
    this.#startup = false;
    this.#lost = false;
    if (established) this.#unreachable = 0;
    this.stage = stage;
    this.since = now;
    if (this.established !== established || !established) this.#downSince = now;
    this.established = established;
  }

  /**
   * An unreachable path starts over at the next tick (a member came up:
   * maybe a relay), at most once per {@link RETRY_SOON_MS}.
   */
  retrySoon(now = Date.now()): void {
    if (this.stage !== "unreachable" || now - this.#retriedSoonAt < RETRY_SOON_MS) return;
    this.#retriedSoonAt = now;
    this.retryAt = 0;
  }

  /** The service started a punch: this end sends at `kickAt` (`upgrade`: the relay stays meanwhile). */
  punching(punch: Omit<Punch, "kicked">, now: number, upgrade: boolean): void {
    this.#busySince = 0;
    this.punch = { ...punch, kicked: false };
    // While it tries to go direct, the relay still carries the traffic.
    this.#enter(upgrade ? "upgrade" : "punch", now, upgrade);
  }

  /** No helper could start a punch: relay instead (while relayed: try again later). */
  noPunch(why: string, now: number): void {
    this.#busySince = 0;
    this.#punchFailed(now, why);
    if (this.stage !== "relay") this.#wantRelay = {};
  }

  /** A relay circuit is open: WireGuard now goes through it. */
  relayed(circuit: RelayCircuit, now: number): void {
    this.#busySince = 0;
    this.#retrying = false;
    this.relay = circuit;
    this.#wantRelay = undefined;
    this.#enter("relay", now, false);
    if (this.nextUpgradeAt < now) {
      this.nextUpgradeAt = now + this.#timers.upgradeMs * 2 ** Math.max(0, this.failures - 1);
    }
  }

  /**
   * No relay would carry the pair: unreachable until `retryMs` from now, or
   * `soonMs` when a relay may take it in a moment (it is up but not yet
   * linked to the peer).
   */
  noRelay(why: string, now: number, soonMs?: number): void {
    this.#busySince = 0;
    this.why = why;
    this.relay = undefined;
    this.#enter("unreachable", now, false);
    // Every failure in a row doubles the wait (a member that is off for the night costs little),
    // except that the first may come back soon when a relay was only not yet linked to the peer.
    this.#unreachable++;
    const backoff = Math.min(this.#timers.retryMs * 2 ** (this.#unreachable - 1), RETRY_MAX_MS);
    const first = this.#unreachable === 1 && soonMs !== undefined;
    this.retryAt = now + (first ? Math.min(soonMs, backoff) : backoff);
  }

  /** The relay circuit through `via` is gone (its link went down, it closed the circuit). */
  relayLost(via: string, now = Date.now()): void {
    if (this.relay?.via !== via) return;
    if (this.role === "follower") {
      if (this.stage !== "relay" && this.stage !== "upgrade") return; // moved on (went direct)
      if (this.established) this.#downSince = now;
      this.established = false; // the arranger opens another circuit and offers it
      this.#lost = true;
      return;
    }
    if (this.stage === "relay" || this.stage === "upgrade") {
      this.stage = "relay";
      this.#wantRelay = { lost: via };
    }
  }

  /** The follower was told to punch (or, `upgrade`, to try the direct path while relayed). */
  told(punch: Omit<Punch, "kicked">, now: number, upgrade: boolean): void {
    this.punch = { ...punch, kicked: true };
    this.#enter(upgrade ? "upgrade" : "punch", now, upgrade);
  }

  /** The follower heard the verdict on a try to go direct. */
  verdict(ok: boolean, now: number): void {
    if (this.stage !== "upgrade") return;
    this.#enter(ok ? "punched" : "relay", now, true);
  }

  /** The follower was offered a relay circuit by the arranger. */
  offered(circuit: RelayCircuit, now: number): void {
    this.relay = circuit;
    this.#enter("relay", now, false);
  }
}
