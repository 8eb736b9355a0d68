/**
 * Announcements: a member's soft state in a net (where its WireGuard listens,
 * its grid URL, the addresses it can be reached at, and what it observes of
 * its peers). Unlike records they are not part of the DAG: each member has
 * one, the one with the highest sequence number wins on every node, and a
 * newer one replaces the older. So a laptop that changes Wi-Fi a thousand
 * times leaves one announcement, and a member flooding them costs each node
 * one slot, never a growing history. They are signed by their author and
 * verified on every receipt; only live members' announcements are kept.
 *
 * @module
 */
import {
  decodeValue,
  encodeValue,
  type GridHome,
  type Identity,
  nodeIdOf,
  type Parm,
  writeFileAtomic,
} from "../../kernel/mod.ts";
import {
  checkVersion,
  FORMAT_VERSION,
  openEnvelope,
  signEnvelope,
  verifyEnvelope,
} from "./_signed.ts";
import { Fields } from "./_fields.ts";
import { ENDPOINT, GRID_URL } from "./patterns.ts";
import { MembershipError } from "./errors.ts";
import { netDir } from "./net_store.ts";

/** Signature context of announcements. */
export const ANNOUNCEMENT_CONTEXT = "grid/membership-announcement/v2";
/** Largest encoded announcement. */
export const MAX_ANNOUNCEMENT_BYTES = 4096;
/** Most candidate endpoints one announcement lists. */
export const MAX_CANDIDATES = 8;
/** Most observations (peer → endpoint it was seen at) one announcement carries. */
export const MAX_OBSERVED = 64;
/** Most revoked invites one announcement lists. */
export const MAX_REVOKED_INVITES = 64;
/** How far in the future a sequence number (the author's clock, ms) may be. */
export const MAX_FUTURE_MS = 5 * 60_000;

/**
 * What a member observed of a peer: where the peer's packets come from as
 * seen here. `wg`: the endpoint WireGuard learned from the peer's
 * authenticated packets (its NAT's public side for a peer behind one);
 * `link`: the address the peer's grid link comes from, with the port its
 * WireGuard listens on (a guess that holds for NATs that keep ports).
 */
export interface Observation {
  /** The peer's node id. */
  readonly member: string;
  /** `host:port` the peer was seen at. */
  readonly endpoint: string;
  /** How it was seen (default "wg"). */
  readonly via?: "wg" | "link";
}

/** The fields an announcement states. */
export interface AnnouncementFields {
  /** The author's WireGuard endpoint, `host:port`. */
  endpoint?: string;
  /** The author's grid URL. */
  url?: string;
  /** Further endpoints the author may be reached at (other interfaces, mapped ports). */
  candidates?: string[];
  /** Where the author sees its peers. */
  observed?: Observation[];
  /** Ids of invites the author made and revoked (unexpired ones): admins refuse them. */
  revokedInvites?: string[];
}

/** A verified announcement. */
export interface Announcement extends AnnouncementFields {
  /** Net id. */
  readonly net: string;
  /** Author's node id. */
  readonly author: string;
  /** Sequence number: the author's clock in ms; the highest wins. */
  readonly seq: number;
  /** The signed bytes. */
  readonly bytes: Uint8Array;
}

/** Signs an announcement by `identity` for net `net` with sequence `seq`. */
export async function signAnnouncement(
  identity: Identity,
  net: string,
  seq: number,
  fields: AnnouncementFields,
): Promise<Announcement> {
  const body: { [key: string]: Parm } = {
    v: FORMAT_VERSION,
    net,
    author: identity.id,
    key: identity.publicKey,
    seq: Math.floor(seq),
  };
  if (fields.endpoint !== undefined) body.endpoint = fields.endpoint;
  if (fields.url !== undefined) body.url = fields.url;
  if (fields.candidates?.length) body.candidates = fields.candidates;
  if (fields.revokedInvites?.length) body.revokedInvites = fields.revokedInvites;
  if (fields.observed?.length) {
    body.observed = fields.observed.map((o): { [key: string]: Parm } =>
      o.via === "link"
        ? { member: o.member, endpoint: o.endpoint, via: "link" }
        : { member: o.member, endpoint: o.endpoint }
    );
  }
  return await parseAnnouncement(await signEnvelope(identity, ANNOUNCEMENT_CONTEXT, body));
}

/** Decodes and verifies an announcement (of net `net` when given); throws {@link MembershipError}. */
export async function parseAnnouncement(bytes: Uint8Array, net?: string): Promise<Announcement> {
  const envelope = openEnvelope(bytes, "Announcement", MAX_ANNOUNCEMENT_BYTES);
  checkVersion(envelope.body.v, "The announcement");
  const f = new Fields(envelope.body, "Announcement");
  f.only([
    "v",
    "net",
    "author",
    "key",
    "seq",
    "endpoint",
    "url",
    "candidates",
    "observed",
    "revokedInvites",
  ]);
  const key = f.bytes("key", 32, 32);
  const author = f.string("author", 120);
  if (nodeIdOf(key) !== author) {
    throw new MembershipError("Announcement names a key that is not its author's");
  }
  if (!(await verifyEnvelope(envelope, ANNOUNCEMENT_CONTEXT, key))) {
    throw new MembershipError(`Announcement by "${author}" has a bad signature`);
  }
  const candidates = f.has("candidates") ? f.strings("candidates", MAX_CANDIDATES, 260) : [];
  const revokedInvites = f.has("revokedInvites")
    ? f.strings("revokedInvites", MAX_REVOKED_INVITES, 120)
    : [];
  if (!candidates.every((c) => ENDPOINT.test(c))) {
    throw new MembershipError("Announcement is malformed: a candidate is not HOST:PORT");
  }
  const observed: Observation[] = [];
  if (f.has("observed")) {
    const list = envelope.body.observed;
    if (!Array.isArray(list) || list.length > MAX_OBSERVED) {
      throw new MembershipError(`Announcement is malformed: at most ${MAX_OBSERVED} observations`);
    }
    for (const item of list) {
      const o = new Fields(item as { [key: string]: Parm }, "Announcement observation");
      o.only(["member", "endpoint", "via"]);
      const via = o.optionalString("via", 8);
      if (via !== undefined && via !== "wg" && via !== "link") {
        throw new MembershipError('Announcement is malformed: an observation is "wg" or "link"');
      }
      observed.push({
        member: o.string("member", 120),
        endpoint: o.string("endpoint", 260, ENDPOINT),
        ...(via === "link" ? { via } : {}),
      });
    }
  }
  const announcement: Announcement = {
    net: f.string("net", 120),
    author,
    seq: f.integer("seq"),
    endpoint: f.optionalString("endpoint", 260, ENDPOINT),
    url: f.optionalString("url", 460, GRID_URL),
    candidates,
    observed,
    revokedInvites,
    bytes,
  };
  if (net !== undefined && announcement.net !== net) {
    throw new MembershipError(`Announcement by "${author}" belongs to another net`);
  }
  return announcement;
}

/** What {@link AnnouncementBook.offer} did with an announcement. */
export type OfferResult = "kept" | "older" | "not-member" | "future";

/**
 * The latest announcement of each live member of one net. Pure state, plus
 * {@link AnnouncementBook.save}/{@link AnnouncementBook.load} for the one
 * file it keeps (`announcements.cbor`, written atomically).
 */
export class AnnouncementBook {
  readonly #byAuthor = new Map<string, Announcement>();

  /**
   * Keeps `a` when its author is a live member and it is newer than the one
   * held (at most {@link MAX_FUTURE_MS} ahead of `now`).
   */
  offer(a: Announcement, isLive: (id: string) => boolean, now: number): OfferResult {
    if (!isLive(a.author)) return "not-member";
    if (a.seq > now + MAX_FUTURE_MS) return "future";
    const held = this.#byAuthor.get(a.author);
    if (held && held.seq >= a.seq) return "older";
    this.#byAuthor.set(a.author, a);
    return "kept";
  }

  /** The latest announcement of `author`, if any. */
  get(author: string): Announcement | undefined {
    return this.#byAuthor.get(author);
  }

  /** Every announcement held. */
  all(): Announcement[] {
    return [...this.#byAuthor.values()];
  }

  /** How many are held. */
  get size(): number {
    return this.#byAuthor.size;
  }

  /** Author → sequence number, for the anti-entropy summary. */
  digest(): Map<string, number> {
    return new Map([...this.#byAuthor].map(([id, a]) => [id, a.seq]));
  }

  /** Drops the announcements of authors that are no longer live members. */
  prune(isLive: (id: string) => boolean): void {
    for (const id of [...this.#byAuthor.keys()]) if (!isLive(id)) this.#byAuthor.delete(id);
  }

  /** Writes the book to the net's folder (atomically). */
  async save(home: GridHome, name: string): Promise<void> {
    const list = this.all().map((a) => a.bytes);
    await writeFileAtomic(`${netDir(home, name)}/announcements.cbor`, encodeValue(list), {
      mode: 0o644,
    });
  }

  /** Reads the net's announcements from disk (missing or unreadable ones are skipped). */
  async load(home: GridHome, name: string, net: string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(`${netDir(home, name)}/announcements.cbor`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    let list: unknown;
    try {
      list = decodeValue(bytes, { maxBytes: 64 * 1024 * 1024, maxDepth: 2 });
    } catch {
      return; // a torn or foreign file: the members announce again
    }
    if (!Array.isArray(list)) return;
    for (const item of list) {
      if (!(item instanceof Uint8Array)) continue;
      try {
        const a = await parseAnnouncement(item, net);
        const held = this.#byAuthor.get(a.author);
        if (!held || held.seq < a.seq) this.#byAuthor.set(a.author, a);
      } catch {
        continue; // one bad entry does not spoil the rest
      }
    }
  }
}
