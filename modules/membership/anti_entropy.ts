/**
 * Replication of membership records and announcements between members, over
 * the peer network with kernel messages (see protocol.ts). New records are
 * pushed to every connected live member at once, so a revoke spreads in one
 * round trip; a summary exchange (the hashes each side holds, in pages of id
 * ranges so a big net is compared whole, and each side's announcement
 * digest) runs when a peer comes up and every few seconds with a few
 * members, and pulls whatever is missing. Every record and announcement is
 * verified before it is kept; every message is bounded, and each peer gets
 * only so many answers a second.
 *
 * Only live members are answered or sent anything. A revoked member gets
 * just its own revoke (a `revoked` notice), never the records that follow.
 *
 * The same module answers joiners (`join`, passed on to an admin when this
 * node is none) and the PSK exchange (`psk`).
 *
 * @module
 */
import {
  answer,
  type CallContext,
  type CID,
  hashText,
  hashToText,
  isHash,
  type Logger,
  type Module,
  oneLine,
  type Parms,
  parseHash,
  type PeerNetwork,
  readAnswer,
  refusal,
  reject,
  rejectCodeOf,
} from "../../kernel/mod.ts";
import { isLinkLocalHost, isLocalOnlyHost, urlHost } from "../../kernel/peers/mod.ts";
import { isAdmin, isLive } from "./member_set.ts";
import { memberReach, type Nets, type NetState } from "./nets.ts";
import type { MemberRecord } from "./records.ts";
import { parseMemberRequest } from "./member_request.ts";
import { type Announcement, parseAnnouncement } from "./announcements.ts";
import {
  ADMISSION_PROMISE,
  announcementsDigestMessage,
  announceMessage,
  boundRecords,
  checkMessage,
  inRange,
  joinMessage,
  LEGACY_MEMBERSHIP_MODULE,
  LEGACY_REFUSAL,
  MAX_HASHES_PER_MESSAGE,
  MAX_RECORDS_PER_MESSAGE,
  MEMBERSHIP_MODULE,
  MEMBERSHIP_TEXT,
  pushMessage,
  revokedMessage,
  summaryPages,
  type SummaryRange,
  syncMessage,
} from "./protocol.ts";

/** Default time between summary rounds. */
export const SYNC_INTERVAL_MS = 2000;
/** Members a node exchanges summaries with per net per round. */
export const SYNC_FANOUT = 3;
/** Requests one peer may make of this node per second, sustained (a burst of 4x is fine). */
export const PEER_REQUESTS_PER_SECOND = 50;
/** Least time between two summary exchanges with one peer started by its pushes. */
export const PULL_INTERVAL_MS = 2000;
/** Most announcements in one message. */
const MAX_ANNOUNCEMENTS_PER_MESSAGE = 512;
/**
 * Members a node passes a record on to that another member signed (gossip
 * fan-out). The author pushes its own records to every member it is linked
 * to; a member passes what was new to it on to a few, and the summary rounds
 * reach the rest. A record then costs about (1 + FORWARD_FANOUT) pushes per
 * member rather than one per pair of members: a burst of N joins is O(N²)
 * pushes, not O(N³).
 */
export const FORWARD_FANOUT = 2;
/** New records gathered for this long leave in one push per member (a burst of admits). */
export const PUSH_BATCH_MS = 25;

/** Options for {@link AntiEntropy}. */
export interface AntiEntropyOptions {
  /** The nets to replicate. */
  nets: Nets;
  /** The peer network to replicate over. */
  peers: PeerNetwork;
  /** Where events are logged. */
  log?: Logger;
  /** Hash (text) of the join promise joiners must make. */
  joinPromise: string;
  /** Time between rounds (default {@link SYNC_INTERVAL_MS}). */
  intervalMs?: number;
  /** Answers a PSK ciphertext from `peer` with a confirmation tag. */
  onPsk?: (state: NetState, peer: string, cipherText: Uint8Array) => Promise<Uint8Array>;
  /** Timeout of one request to a peer. */
  requestTimeoutMs?: number;
  /** Most hashes in one summary page (default {@link MAX_HASHES_PER_MESSAGE}; tests lower it). */
  pageSize?: number;
  /** Most records in one sync reply (default {@link MAX_RECORDS_PER_MESSAGE}; tests lower it). */
  maxReplyRecords?: number;
  /** Requests a peer may make per second (default {@link PEER_REQUESTS_PER_SECOND}). */
  peerRate?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** A member admitted this recently is a newcomer: it dials first. */
const NEWCOMER_FRESH_MS = 30_000;
/** How long members wait, on average, before dialling a newcomer that has not dialled them. */
const NEWCOMER_WAIT_MS = 2_000;
/** A member with news is redialled at most this often. */
const REDIAL_ON_NEWS_MS = 5_000;

/** A token bucket per peer: `rate` a second, bursts of four seconds' worth. */
class PeerBudget {
  readonly #rate: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(rate: number, now: () => number) {
    this.#rate = rate;
    this.#now = now;
  }
  /** Spends one token of `peer`'s; false when it has none left. */
  take(peer: string): boolean {
    const now = this.#now();
    const cap = this.#rate * 4;
    const b = this.#buckets.get(peer) ?? { tokens: cap, at: now };
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (this.#buckets.size > 4096) this.#buckets.clear(); // bounded: strangers come and go
    this.#buckets.set(peer, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** Replicates the records and announcements of every net this node belongs to. */
export class AntiEntropy {
  readonly #o: AntiEntropyOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #budget: PeerBudget;
  /** The URL dialled per member (a member's URL changes: it is dialled again). */
  readonly #dialled = new Map<string, string>();
  /** When each member was last redialled on news of it. */
  readonly #redialled = new Map<string, number>();
  /** Members just admitted, and when this node may dial them. */
  readonly #newcomers = new Map<string, number>();
  /** When a pull from each peer last started. */
  readonly #pulled = new Map<string, number>();
  /** Peers told they are busy, so the log says so once a minute at most. */
  #busyLogged = 0;
  /** Per net id, per peer: whether the last exchange ended with the same records on both sides. */
  readonly #agreement = new Map<string, Map<string, PeerAgreement>>();
  #rounds = 0;

  /** Replication over `options.peers`; call {@link AntiEntropy.start} to run it. */
  constructor(options: AntiEntropyOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#budget = new PeerBudget(options.peerRate ?? PEER_REQUESTS_PER_SECOND, this.#now);
  }

  /** The modules that answer members and joiners (and grid 0.1 nodes); register them. */
  modules(): Module[] {
    return [
      {
        id: MEMBERSHIP_MODULE,
        name: "membership",
        promise: MEMBERSHIP_TEXT,
        scope: "own",
        accept: (parms, ctx) => this.#answer(parms, ctx),
      },
      {
        id: LEGACY_MEMBERSHIP_MODULE,
        name: "membership-v1",
        promise: "grid/module/membership/v1 (answered with the version line only)",
        scope: "own",
        accept: () => refusal("membership", LEGACY_REFUSAL),
      },
    ];
  }

  /** The main module (tests). */
  module(): Module {
    return this.modules()[0];
  }

  async #answer(parms: Parms, ctx: CallContext): Promise<Parms> {
    const from = ctx.origin.startsWith("peer:") ? ctx.origin.slice(5) : undefined;
    if (!from) return reject("denied", "Membership messages come from peers");
    if (!this.#budget.take(from)) {
      if (this.#now() - this.#busyLogged > 60_000) {
        this.#busyLogged = this.#now();
        this.#log("warn", "membership-peer-busy", {
          peer: from,
          rate: this.#o.peerRate ?? PEER_REQUESTS_PER_SECOND,
        });
      }
      return refusal("peer", "Too many membership requests from your node; slow down");
    }
    const op = parms[2];
    try {
      if (op === "join") {
        if (!(parms[3] instanceof Uint8Array)) return reject("codec", "A join carries a request");
        return await this.#answerJoin(parms[3], from, ctx.hops);
      }
      const state = typeof parms[3] === "string" ? this.#o.nets.byId(parms[3]) : undefined;
      if (!state) return refusal("not-found", "This node is not in that net");
      if (!isLive(state.set, from)) {
        if (state.set.status.get(from) === "revoked") this.#noticeSoon(state, from);
        return refusal(
          "denied",
          `Node "${from}" is not a live member of net "${state.settings.name}"`,
        );
      }
      switch (op) {
        case "sync":
          return this.#answerSync(state, parms[4], parms[5], parms[6]);
        case "push":
          return await this.#answerPush(state, from, parms[4]);
        case "anns":
          return this.#answerDigest(state, parms[4]);
        case "check":
          return answer(
            parms[4] === headsDigest(state),
            parms[5] === announcementsDigest(state),
          );
        case "announce":
          return answer(await this.#takeAnnouncements(state, parms[4]));
        case "revoked":
          if (!(parms[4] instanceof Uint8Array)) {
            return refusal("codec", "A notice carries a record");
          }
          return answer(await this.#o.nets.noteRevoked(state.settings.name, parms[4]));
        case "psk":
          if (this.#o.onPsk && parms[4] instanceof Uint8Array) {
            return answer(await this.#o.onPsk(state, from, parms[4]));
          }
      }
      return refusal("usage", `Unknown membership operation "${String(op).slice(0, 20)}"`);
    } catch (err) {
      return refusal(rejectCodeOf(err), oneLine(err));
    }
  }

  /**
   * A join: an admin of the net admits it here; any other member passes it
   * on to the admin its invite names (for an open net: the founder, or another
   * admin it is connected to) and hands back that admin's answer.
   */
  async #answerJoin(bytes: Uint8Array, from: string, hops: number): Promise<Parms> {
    const req = await parseMemberRequest(bytes);
    const state = this.#o.nets.netOf(req);
    if (isAdmin(state.set, this.#o.nets.selfId)) {
      const { records, address } = await this.#o.nets.admit(bytes, {
        joinPromise: this.#o.joinPromise,
      });
      this.#log("info", "member-admitted", {
        net: state.settings.name,
        node: req.id,
        name: req.name,
        address,
        via: from === req.id ? undefined : from,
      });
      return answer(state.settings.net, records, ADMISSION_PROMISE, address);
    }
    if (hops > 0) return refusal("membership", "Joins are passed on once, to an admin");
    const connected = new Set(this.#o.peers.connected().map((p) => p.id));
    const set = state.set;
    const admins = req.invite
      ? [req.invite.admin]
      : [set.net.founder, ...[...set.admins.keys()].sort()].filter((id) => isAdmin(set, id));
    const admin = admins.find((id) => connected.has(id));
    if (!admin) {
      return refusal(
        "membership",
        `No admin of net "${set.net.name}" that could admit you is reachable from here${
          req.invite ? ` (the invite names "${req.invite.admin}")` : ""
        }`,
      );
    }
    this.#log("info", "join-passed-on", { net: set.net.name, node: req.id, admin });
    return await this.#request(admin, joinMessage(bytes), { hops: hops + 1 });
  }

  #answerSync(state: NetState, hashes: unknown, after: unknown, upTo: unknown): Parms {
    if (!Array.isArray(hashes) || hashes.length > MAX_HASHES_PER_MESSAGE || !hashes.every(isHash)) {
      return refusal("codec", `A sync carries at most ${MAX_HASHES_PER_MESSAGE} hashes`);
    }
    const range = readRange(after, upTo);
    if (!range) return refusal("codec", "A sync's range is two ids of at most 120 characters");
    const theirs = new Set(hashes.map((h) => hashToText(h as CID)));
    const max = this.#o.maxReplyRecords ?? MAX_RECORDS_PER_MESSAGE;
    const extra: Uint8Array[] = [];
    const order = this.#o.nets.recordsInOrder(state.settings.name);
    const ids = orderIds(state, order);
    for (let i = 0; i < order.length && extra.length < max; i++) {
      if (inRange(ids[i], range) && !theirs.has(ids[i])) extra.push(order[i]);
    }
    const wanted = [...theirs].filter((id) => !state.records.has(id))
      .slice(0, max).map(parseHash);
    return answer(boundRecords(extra), wanted, headsDigest(state));
  }

  #answerDigest(state: NetState, digest: unknown): Parms {
    const theirs = readDigest(digest);
    if (!theirs) return refusal("codec", "An announcement digest is a list of [author, seq]");
    const newer: Uint8Array[] = [];
    for (const a of state.announcements.all()) {
      const seq = theirs.get(a.author);
      if (seq === undefined || seq < a.seq) newer.push(a.bytes);
    }
    const wanted: string[] = [];
    for (const [author, seq] of theirs) {
      const held = state.announcements.get(author);
      if ((!held || held.seq < seq) && isLive(state.set, author)) wanted.push(author);
    }
    return answer(
      newer.slice(0, MAX_ANNOUNCEMENTS_PER_MESSAGE),
      wanted.slice(0, MAX_ANNOUNCEMENTS_PER_MESSAGE),
    );
  }

  /** Verifies and offers announcements; returns how many were kept. */
  async #takeAnnouncements(state: NetState, list: unknown): Promise<number> {
    if (
      !Array.isArray(list) || list.length > MAX_ANNOUNCEMENTS_PER_MESSAGE ||
      !list.every((a) => a instanceof Uint8Array)
    ) {
      return 0;
    }
    let kept = 0;
    for (const bytes of list as Uint8Array[]) {
      let a: Announcement;
      try {
        a = await parseAnnouncement(bytes, state.settings.net);
      } catch (err) {
        this.#log("debug", "announcement-refused", { net: state.settings.name, why: oneLine(err) });
        continue;
      }
      if (this.#o.nets.offerAnnouncement(state.settings.name, a) === "kept") {
        kept++;
        this.#newsOf(a.author);
      }
    }
    return kept;
  }

  /** A request that never throws: failures come back as rejects. */
  async #request(peer: string, parms: Parms, options: { hops?: number } = {}): Promise<Parms> {
    try {
      return await this.#o.peers.request(peer, parms, {
        timeoutMs: this.#o.requestTimeoutMs,
        hops: options.hops,
      });
    } catch (err) {
      return reject(rejectCodeOf(err), oneLine(err));
    }
  }

  async #answerPush(state: NetState, from: string, records: unknown): Promise<Parms> {
    if (
      !Array.isArray(records) || records.length > MAX_RECORDS_PER_MESSAGE ||
      !records.every((r) => r instanceof Uint8Array)
    ) {
      return refusal("codec", `A push carries at most ${MAX_RECORDS_PER_MESSAGE} records`);
    }
    const result = await this.#o.nets.ingest(state.settings.name, records as Uint8Array[], {
      from,
    });
    if (result.refused.length > 0) {
      this.#log("debug", "records-refused", {
        net: state.settings.name,
        peer: from,
        count: result.refused.length,
        why: result.refused[0],
      });
    }
    if (result.missing.length > 0) this.#pullSoon(state, from);
    return answer(result.added.length);
  }

  /**
   * Tells a revoked member that still knocks (it was away when it was
   * revoked) of its revoke: that one record, at most once a minute.
   */
  #noticeSoon(state: NetState, peer: string): void {
    const key = `notice:${peer}`;
    if (this.#now() - (this.#pulled.get(key) ?? 0) < 60_000) return;
    this.#pulled.set(key, this.#now());
    const m = state.set.members.get(peer);
    const revoke = [...state.records.values()].find((r) =>
      r.kind === "revoked" && r.member === peer && r.admit === m?.admit
    );
    if (revoke) void this.#request(peer, revokedMessage(state.settings.net, revoke.bytes));
  }

  /** Pulls what a peer has that this node lacks, at most once per {@link PULL_INTERVAL_MS}. */
  #pullSoon(state: NetState, peer: string): void {
    const last = this.#pulled.get(peer) ?? 0;
    if (this.#now() - last < PULL_INTERVAL_MS) return;
    this.#pulled.set(peer, this.#now());
    queueMicrotask(() => void this.syncWith(state, peer));
  }

  /** Starts pushing, dialling and periodic summaries until `signal` aborts. */
  start(signal: AbortSignal): void {
    const offChange = this.#o.nets.onChange((state, added) => {
      if (added.length > 0) this.#pushSoon(state, added);
      this.dialMembers(state);
    });
    const offPeers = this.#o.peers.onChange((event) => {
      // An exchange goes both ways (each side takes what it lacks), so the side that dialled
      // starts it: one per new link, not two.
      if (event.type !== "up" || event.peer.direction !== "out") return;
      for (const name of this.#o.nets.names()) {
        const state = this.#o.nets.get(name)!;
        if (isLive(state.set, event.peer.id)) void this.syncWith(state, event.peer.id);
      }
    });
    const timer = setInterval(() => void this.round(), this.#o.intervalMs ?? SYNC_INTERVAL_MS);
    for (const name of this.#o.nets.names()) this.dialMembers(this.#o.nets.get(name)!);
    signal.addEventListener("abort", () => {
      clearInterval(timer);
      for (const batch of this.#batches.values()) clearTimeout(batch.timer);
      this.#batches.clear();
      offChange();
      offPeers();
    }, { once: true });
  }

  readonly #batches = new Map<
    string,
    { state: NetState; records: MemberRecord[]; timer: ReturnType<typeof setTimeout> }
  >();

  /** Gathers new records for {@link PUSH_BATCH_MS}, then pushes them (see {@link FORWARD_FANOUT}). */
  #pushSoon(state: NetState, added: MemberRecord[]): void {
    const key = state.settings.net;
    const batch = this.#batches.get(key);
    if (batch) {
      batch.state = state;
      batch.records.push(...added);
      return;
    }
    const timer = setTimeout(() => {
      const due = this.#batches.get(key);
      this.#batches.delete(key);
      if (!due) return;
      const own = due.records.some((r) => r.author === this.#o.nets.selfId);
      void this.push(due.state, due.records, own ? undefined : FORWARD_FANOUT);
    }, PUSH_BATCH_MS);
    this.#batches.set(key, { state, records: [...added], timer });
  }

  /** Summary rounds started since this node began replicating. */
  get rounds(): number {
    return this.#rounds;
  }

  /** One summary round: every net, a few connected live members. */
  async round(): Promise<void> {
    this.#rounds++;
    const connected = new Set(this.#o.peers.connected().map((p) => p.id));
    await Promise.all(
      this.#o.nets.names().map((name) => {
        const state = this.#o.nets.get(name)!;
        this.dialMembers(state);
        const members = [...state.set.members.values()]
          .filter((m) => m.status === "live" && m.id !== this.#o.nets.selfId && connected.has(m.id))
          .map((m) => m.id).sort(() => Math.random() - 0.5).slice(0, SYNC_FANOUT);
        return Promise.all(members.map((id) => this.syncWith(state, id)));
      }),
    );
  }

  /** Dials every live member whose grid URL is not connected (again when its URL changes). */
  dialMembers(state: NetState): void {
    const connected = new Set(this.#o.peers.connected().map((p) => p.id));
    for (const m of state.set.members.values()) {
      if (m.status !== "live" && this.#dialled.has(m.id) && !this.#liveAnywhere(m.id)) {
        // Gone from every net of this node: no more redials.
        this.#o.peers.forget(this.#dialled.get(m.id)!);
        this.#dialled.delete(m.id);
      }
      if (m.status !== "live" || m.id === this.#o.nets.selfId) continue;
      const url = memberReach(state, m).url;
      const before = this.#dialled.get(m.id);
      if (!url || before === url) continue;
      // A member that says it is at a loopback (or zoneless link-local) address cannot be reached
      // there: never dialled.
      const host = urlHost(url) ?? "";
      if (isLocalOnlyHost(host) || isLinkLocalHost(host)) continue;
      // A member that moved: stop redialling where it was.
      if (before !== undefined) this.#o.peers.forget(before);
      if (connected.has(m.id)) continue;
      if (this.#waitForNewcomer(state, m.id, m.admit)) continue;
      this.#dialled.set(m.id, url);
      try {
        this.#o.peers.dial(url);
      } catch (err) {
        this.#log("warn", "member-dial-failed", { url, why: oneLine(err) });
      }
    }
  }

  /**
   * True while a member that was just admitted should be left to dial this
   * node itself: a newcomer dials every member as soon as it is in, and if
   * every member dialled it back at the same moment, it would do two
   * handshakes per member (one link of each pair is then closed). Each
   * member waits a random {@link NEWCOMER_WAIT_MS} first, and dials only if
   * no link came meanwhile.
   */
  #waitForNewcomer(state: NetState, id: string, admit: string): boolean {
    const now = this.#now();
    const admitted = state.records.get(admit)?.time ?? 0;
    if (now - admitted > NEWCOMER_FRESH_MS) return false;
    // Only members that came after this node wait: the newcomer itself dials everyone at once.
    const self = state.set.members.get(this.#o.nets.selfId);
    const mine = self ? state.records.get(self.admit)?.time ?? 0 : Infinity;
    if (admitted <= mine) return false;
    const due = this.#newcomers.get(id);
    if (due !== undefined) return now < due;
    if (this.#newcomers.size > 4096) this.#newcomers.clear();
    const wait = NEWCOMER_WAIT_MS * (0.5 + Math.random());
    this.#newcomers.set(id, now + wait);
    const timer = setTimeout(() => this.dialMembers(state), wait + 10);
    Deno.unrefTimer(timer);
    return true;
  }

  /**
   * Fresh news of member `id` (a newer announcement) while this node has no
   * link to it: it is up, so its URL is dialled now rather than at the end
   * of a backoff (at most every {@link REDIAL_ON_NEWS_MS} per member).
   */
  #newsOf(id: string): void {
    const url = this.#dialled.get(id);
    if (url === undefined || this.#o.peers.connected().some((p) => p.id === id)) return;
    const now = this.#now();
    if (now - (this.#redialled.get(id) ?? 0) < REDIAL_ON_NEWS_MS) return;
    if (this.#redialled.size > 4096) this.#redialled.clear();
    this.#redialled.set(id, now);
    this.#o.peers.redial(url);
  }

  #liveAnywhere(id: string): boolean {
    return this.#o.nets.names().some((n) => isLive(this.#o.nets.get(n)!.set, id));
  }

  /**
   * Exchanges summaries with one peer and pulls and pushes what differs: the
   * records, in pages of at most {@link MAX_HASHES_PER_MESSAGE} hashes each
   * covering a range of ids, so every record of a big net (the newest, a late
   * revoke, included) is compared; then the announcements.
   */
  async syncWith(state: NetState, peer: string): Promise<void> {
    // First the two digests (a few dozen bytes): most rounds, in a quiet net, end here.
    const check = readAnswer(
      await this.#request(
        peer,
        checkMessage(state.settings.net, headsDigest(state), announcementsDigest(state)),
      ),
    );
    if (check.ok && check.payload[0] === true && check.payload[1] === true) {
      this.#agree(state, peer, "same");
      return;
    }
    if (check.ok && check.payload[0] === true) {
      this.#agree(state, peer, "same");
      await this.#syncAnnouncements(state, peer);
      return;
    }
    const ids = [...state.records.keys()].sort();
    const size = this.#o.pageSize ?? MAX_HASHES_PER_MESSAGE;
    let theirs: string | undefined;
    for (const range of summaryPages(ids, size)) {
      const page = await this.#syncPage(state, peer, ids, range);
      if (page === false) return;
      theirs = page;
    }
    // Their heads as they were when they answered; ours now, after taking theirs in.
    if (theirs) this.#agree(state, peer, theirs === headsDigest(state) ? "same" : "differ");
    await this.#syncAnnouncements(state, peer);
  }

  #agree(state: NetState, peer: string, records: "same" | "differ"): void {
    const net = state.settings.net;
    let byPeer = this.#agreement.get(net);
    if (!byPeer) this.#agreement.set(net, byPeer = new Map());
    const was = byPeer.get(peer);
    byPeer.set(peer, {
      records,
      at: this.#now(),
      since: was && was.records === records ? was.since : this.#now(),
    });
  }

  /** Whether this node and `peer` held the same records of the net at their last exchange. */
  agreement(state: NetState, peer: string): PeerAgreement | undefined {
    return this.#agreement.get(state.settings.net)?.get(peer);
  }

  /** One summary page; false when the peer refused (stop the exchange), else its heads digest. */
  async #syncPage(
    state: NetState,
    peer: string,
    ids: string[],
    range: SummaryRange,
  ): Promise<string | false> {
    const net = state.settings.net;
    const hashes = ids.filter((id) => inRange(id, range))
      .map((id) => state.records.get(id)?.hash).filter((h) => h !== undefined);
    const reply = readAnswer(await this.#request(peer, syncMessage(net, hashes, range)));
    if (!reply.ok) {
      this.#log("debug", "sync-refused", { net: state.settings.name, peer, why: reply.reason });
      return false;
    }
    const [records, wanted, digest] = reply.payload;
    if (Array.isArray(records) && records.every((r) => r instanceof Uint8Array)) {
      await this.#o.nets.ingest(
        state.settings.name,
        (records as Uint8Array[]).slice(0, MAX_RECORDS_PER_MESSAGE),
        { from: peer },
      );
    }
    if (Array.isArray(wanted) && wanted.length > 0 && wanted.every(isHash)) {
      const want = wanted.slice(0, MAX_RECORDS_PER_MESSAGE).map((h) => hashToText(h as CID));
      const bytes = want.map((id) => state.records.get(id)?.bytes).filter((b) => b !== undefined);
      if (bytes.length > 0) {
        await this.#request(peer, pushMessage(net, boundRecords(bytes)));
      }
    }
    return typeof digest === "string" ? digest : "";
  }

  async #syncAnnouncements(state: NetState, peer: string): Promise<void> {
    const net = state.settings.net;
    const digest: [string, number][] = [...state.announcements.digest()];
    const reply = readAnswer(await this.#request(peer, announcementsDigestMessage(net, digest)));
    if (!reply.ok) return;
    const [newer, wanted] = reply.payload;
    await this.#takeAnnouncements(state, newer);
    if (Array.isArray(wanted) && wanted.length > 0) {
      const bytes = wanted.filter((w): w is string => typeof w === "string")
        .map((id) => state.announcements.get(id)?.bytes).filter((b) => b !== undefined)
        .slice(0, MAX_ANNOUNCEMENTS_PER_MESSAGE);
      if (bytes.length > 0) await this.#request(peer, announceMessage(net, bytes));
    }
  }

  /**
   * Pushes new records to every connected live member (with `fanout`: to
   * that many of them at random, none an author of the records), and a
   * revoke this node signed also to the member it revokes (that one record
   * only). Resolves, once all answered, with how many members kept them.
   */
  async push(state: NetState, added: MemberRecord[], fanout?: number): Promise<number> {
    const bytes = boundRecords(added.map((r) => r.bytes));
    const connected = this.#o.peers.connected();
    const authors = new Set(added.map((r) => r.author));
    let targets = connected.filter((p) => p.id !== this.#o.nets.selfId && isLive(state.set, p.id));
    if (fanout !== undefined) {
      // Passing others' records on: a few members, never back to their authors.
      targets = targets.filter((p) => !authors.has(p.id))
        .map((p) => ({ p, r: Math.random() })).sort((a, b) => a.r - b.r)
        .slice(0, fanout).map(({ p }) => p);
    }
    const notices = added.filter((r) => r.kind === "revoked" && r.author === this.#o.nets.selfId);
    for (const r of notices) {
      if (r.kind !== "revoked" || !connected.some((p) => p.id === r.member)) continue;
      void this.#request(r.member, revokedMessage(state.settings.net, r.bytes)).then((reply) => {
        const read = readAnswer(reply);
        this.#log("debug", "revoke-notice", {
          peer: r.member,
          taken: read.ok && read.payload[0] === true,
        });
      });
    }
    const acks = await Promise.all(targets.map(async (p) => {
      const reply = readAnswer(await this.#request(p.id, pushMessage(state.settings.net, bytes)));
      if (!reply.ok) this.#log("debug", "push-refused", { peer: p.id, why: reply.reason });
      return reply.ok;
    }));
    return acks.filter(Boolean).length;
  }

  /** Pushes this node's announcement to every connected live member. */
  async announce(state: NetState, a: Announcement): Promise<number> {
    const targets = this.#o.peers.connected().filter((p) =>
      p.id !== this.#o.nets.selfId && isLive(state.set, p.id)
    );
    const acks = await Promise.all(targets.map(async (p) => {
      const reply = readAnswer(
        await this.#request(p.id, announceMessage(state.settings.net, [a.bytes])),
      );
      return reply.ok;
    }));
    return acks.filter(Boolean).length;
  }
}

/** What this node knows of how its records compare with a peer's. */
export interface PeerAgreement {
  /** "same" when the last exchange ended with the same heads on both sides. */
  readonly records: "same" | "differ";
  /** When that exchange ended (ms since the epoch). */
  readonly at: number;
  /** Since when the answer has been the same. */
  readonly since: number;
}

/** A short digest of a net's heads: equal digests mean the same records. */
export function headsDigest(state: NetState): string {
  return `${state.records.size}:${hashText(state.set.heads.join(",")).toString().slice(-16)}`;
}

/** A short digest of every announcement held (author and sequence number of each). */
export function announcementsDigest(state: NetState): string {
  const pairs = [...state.announcements.digest()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return `${pairs.length}:${hashText(JSON.stringify(pairs)).toString().slice(-16)}`;
}

/** The ids of a net's records in the order of `order` (its bytes, parents first). */
function orderIds(state: NetState, order: Uint8Array[]): string[] {
  const idOf = new Map<Uint8Array, string>();
  for (const r of state.records.values()) idOf.set(r.bytes, r.id);
  return order.map((b) => idOf.get(b) ?? "");
}

/** A summary's range from a message (both absent: everything), or undefined when malformed. */
function readRange(after: unknown, upTo: unknown): SummaryRange | undefined {
  if (after === undefined && upTo === undefined) return { after: "", upTo: "" };
  if (typeof after !== "string" || typeof upTo !== "string") return undefined;
  if (after.length > 120 || upTo.length > 120) return undefined;
  return { after, upTo };
}

/** An announcement digest from a message, or undefined when malformed. */
function readDigest(value: unknown): Map<string, number> | undefined {
  if (!Array.isArray(value) || value.length > 65_536) return undefined;
  const out = new Map<string, number>();
  for (const pair of value) {
    if (
      !Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" ||
      pair[0].length > 120 || !Number.isSafeInteger(pair[1])
    ) {
      return undefined;
    }
    out.set(pair[0], pair[1] as number);
  }
  return out;
}
