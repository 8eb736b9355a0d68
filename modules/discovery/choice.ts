/**
 * What a joiner heard on the LAN, and which net it joins: announcements
 * kept for a while (stale ones expire, the table is bounded), grouped into
 * nets by id, and the choice among the nets of the asked name (one: join
 * it; several: the user picks with `--net ID`; none: nothing to join).
 *
 * @module
 */
import type { Announcement } from "./announcement.ts";

/** How long a sighting counts after it was heard. */
export const SIGHTING_TTL_MS = 15_000;

/** Most announcements held at once (one per node and net); the oldest makes room. */
export const MAX_SIGHTINGS = 256;

/** How far ahead of the joiner's clock an announcement may be signed (clocks differ a little). */
export const FUTURE_SLACK_MS = 5_000;

/** One announcement as heard: where to dial its node, and when it was heard. */
export interface Sighting {
  /** The verified announcement. */
  readonly announcement: Announcement;
  /** The URL to dial its announcer at. */
  readonly url: string;
  /** When it was heard (ms since the epoch). */
  readonly seenAt: number;
}

/** The announcements heard lately, one per node and net. */
export class Sightings {
  readonly #byKey = new Map<string, Sighting>();
  readonly #ttlMs: number;

  /** An empty table whose sightings count for `ttlMs`. */
  constructor(ttlMs = SIGHTING_TTL_MS) {
    this.#ttlMs = ttlMs;
  }

  /**
   * Records a sighting. Of two from one node for one net the strictly newer
   * wins (a replay of the same one, from another address, changes nothing);
   * one signed later than it was heard is not taken (a future-dated one would
   * otherwise outrank the node's real ones). When the table is full the
   * oldest sighting makes room, so a flood of throwaway keys cannot keep a
   * real net out; false when it was not taken.
   */
  add(sighting: Sighting): boolean {
    this.#expire(sighting.seenAt);
    const a = sighting.announcement;
    if (a.at > sighting.seenAt + FUTURE_SLACK_MS) return false;
    const key = `${a.node}/${a.net}`;
    const held = this.#byKey.get(key);
    if (held && held.announcement.at >= a.at) return held.url === sighting.url;
    if (!held && this.#byKey.size >= MAX_SIGHTINGS) {
      let oldest: [string, Sighting] | undefined;
      for (const entry of this.#byKey) {
        if (!oldest || entry[1].seenAt < oldest[1].seenAt) oldest = entry;
      }
      if (oldest) this.#byKey.delete(oldest[0]);
    }
    this.#byKey.set(key, sighting);
    return true;
  }

  /** The sightings still fresh at `now`. */
  live(now = Date.now()): Sighting[] {
    this.#expire(now);
    return [...this.#byKey.values()];
  }

  #expire(now: number): void {
    for (const [key, s] of this.#byKey) {
      if (now - s.seenAt > this.#ttlMs) this.#byKey.delete(key);
    }
  }
}

/** One net heard of: its facts as announced, and the members' URLs. */
export interface FoundNet {
  /** The net's id. */
  readonly net: string;
  /** Its name. */
  readonly name: string;
  /** Its founder's node id. */
  readonly founder: string;
  /** The most members any announcer holds. */
  readonly members: number;
  /** The URLs of the members heard, newest first. */
  readonly urls: string[];
}

/**
 * The nets named `name` among `sightings` (all names when undefined), grouped
 * by net id, leaving out announcements by `self`; ordered by id.
 */
export function foundNets(sightings: Sighting[], name?: string, self?: string): FoundNet[] {
  const byNet = new Map<
    string,
    { founder: string; name: string; members: number; s: Sighting[] }
  >();
  for (const s of sightings) {
    const a = s.announcement;
    if ((name !== undefined && a.name !== name) || a.node === self) continue;
    const entry = byNet.get(a.net) ??
      { founder: a.founder, name: a.name, members: 0, s: [] as Sighting[] };
    entry.members = Math.max(entry.members, a.members);
    entry.s.push(s);
    byNet.set(a.net, entry);
  }
  return [...byNet.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map((
    [net, e],
  ) => ({
    net,
    name: e.name,
    founder: e.founder,
    members: e.members,
    urls: [...new Set(e.s.sort((x, y) => y.announcement.at - x.announcement.at).map((s) => s.url))],
  }));
}

/** What a join does with the nets it found. */
export type NetChoice =
  | { readonly kind: "one"; readonly net: FoundNet }
  | { readonly kind: "several"; readonly nets: FoundNet[] }
  | { readonly kind: "none" }
  | { readonly kind: "no-such-id"; readonly nets: FoundNet[] };

/** Picks the net to join among `nets` (all of one name): the only one, or the one `netId` names. */
export function chooseNet(nets: FoundNet[], netId?: string): NetChoice {
  if (netId !== undefined) {
    const net = nets.find((n) => n.net === netId);
    return net ? { kind: "one", net } : { kind: "no-such-id", nets };
  }
  if (nets.length === 0) return { kind: "none" };
  if (nets.length === 1) return { kind: "one", net: nets[0] };
  return { kind: "several", nets };
}
