/**
 * When a link pings its peer, and when it gives the peer up: the pure rule
 * behind the liveness timer in _ws_link.ts.
 *
 * A quiet link used to be pinged from both ends every interval: two pings
 * and two pongs (and their TCP acknowledgements) per interval, the bulk of a
 * settled net's traffic. Now only the dialer pings, and not when records
 * just went both ways (each end then heard the other within half an
 * interval; a ping would tell neither anything new). The listener hears the
 * dialer's pings and answers them; it pings only when those are overdue
 * ({@link LISTENER_PING_INTERVALS} intervals of silence), so a dialer that
 * pings less often (another build, other options) is asked before it is
 * cut: the window from there to the dead bound is wider than a timer that
 * runs a little late can jump. Either end cuts the link once it
 * has heard nothing for `deadAfterMs`, as before, so a dead link is noticed
 * in the same time. A live, quiet link is heard from at least every
 * interval plus a round trip (every ping is answered); one that carried
 * records in both directions at least every one and a half intervals.
 *
 * @module
 */
import type { LinkRole } from "./_protocol.ts";

/**
 * Intervals of silence after which the listener pings: past the longest gap
 * between signs of life from a live dialer (1.5 intervals and a round trip),
 * short of the default dead bound (3 intervals).
 */
export const LISTENER_PING_INTERVALS = 1.75;

/**
 * Intervals of silence after which a link counts as stale when a fresh one
 * from the same peer arrives: a live link hears from its peer at least every
 * one and a half intervals (the dialer's pings, or the listener's past
 * {@link LISTENER_PING_INTERVALS}).
 */
export const STALE_AFTER_INTERVALS = 2;

/** What a link does at one tick of its liveness timer. */
export type LivenessStep = "cut" | "ping" | "wait";

/** What the link knows at a tick, in ms before now (Infinity: never). */
export interface LivenessState {
  /** Which end of the link we are. */
  role: LinkRole;
  /** Since the peer was last heard from: a record, a ping or a pong. */
  heardMs: number;
  /** Since the last record from the peer. */
  recordInMs: number;
  /** Since the last record we sent. */
  recordOutMs: number;
}

/** The liveness timings of a link. */
export interface LivenessTiming {
  /** Time between ticks, and between the dialer's pings on a quiet link. */
  intervalMs: number;
  /** A link that heard nothing from its peer for longer than this is cut. */
  deadAfterMs: number;
}

/** What to do at a tick: cut a silent link, ping, or wait for the next tick. */
export function livenessStep(state: LivenessState, timing: LivenessTiming): LivenessStep {
  if (state.heardMs > timing.deadAfterMs) return "cut";
  if (state.role === "listener") {
    return state.heardMs >= LISTENER_PING_INTERVALS * timing.intervalMs ? "ping" : "wait";
  }
  const half = timing.intervalMs / 2;
  return state.recordInMs < half && state.recordOutMs < half ? "wait" : "ping";
}
