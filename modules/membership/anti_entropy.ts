/**
 * Replication of membership records between members, over the peer network
 * with kernel messages (see protocol.ts). New records are pushed to every
 * connected member at once, so a revoke spreads in one round trip; a summary
 * exchange (the hashes each side holds, in pages of id ranges so a big net is
 * compared whole) runs when a peer comes up and every
 * few seconds with a few members, and pulls whatever is missing. Every record
 * is verified before it is kept; every message is bounded.
 *
 * The same module answers joiners (`join`) and the PSK exchange (`psk`).
 *
 * @module
 */
import {
  answer,
  type CallContext,
  type CID,
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
import { isLive } from "./member_set.ts";
import type { Nets, NetState } from "./nets.ts";
import type { MemberRecord } from "./records.ts";
import {
  ADMISSION_PROMISE,
  boundRecords,
  inRange,
  MAX_HASHES_PER_MESSAGE,
  MAX_RECORDS_PER_MESSAGE,
  MEMBERSHIP_MODULE,
  MEMBERSHIP_TEXT,
  pushMessage,
  summaryPages,
  type SummaryRange,
  syncMessage,
} from "./protocol.ts";

/** Default time between summary rounds. */
export const SYNC_INTERVAL_MS = 2000;
/** Members a node exchanges summaries with per net per round. */
export const SYNC_FANOUT = 3;

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
}

/** Replicates the records of every net this node belongs to. */
export class AntiEntropy {
  readonly #o: AntiEntropyOptions;
  readonly #log: Logger;
  readonly #dialled = new Set<string>();

  /** Replication over `options.peers`; call {@link AntiEntropy.start} to run it. */
  constructor(options: AntiEntropyOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
  }

  /** The module that answers members and joiners; register it with the kernel. */
  module(): Module {
    return {
      id: MEMBERSHIP_MODULE,
      name: "membership",
      promise: MEMBERSHIP_TEXT,
      scope: "own",
      accept: (parms, ctx) => this.#answer(parms, ctx),
    };
  }

  async #answer(parms: Parms, ctx: CallContext): Promise<Parms> {
    const from = ctx.origin.startsWith("peer:") ? ctx.origin.slice(5) : undefined;
    if (!from) return reject("denied", "Membership messages come from peers");
    const op = parms[2];
    try {
      if (op === "join") {
        if (!(parms[3] instanceof Uint8Array)) return reject("codec", "A join carries a request");
        const { state, records, address } = await this.#o.nets.admit(parms[3], {
          joinPromise: this.#o.joinPromise,
        });
        this.#log("info", "member-admitted", { net: state.settings.name, peer: from, address });
        return answer(state.settings.net, records, ADMISSION_PROMISE, address);
      }
      const state = typeof parms[3] === "string" ? this.#o.nets.byId(parms[3]) : undefined;
      if (!state) return refusal("not-found", "This node is not in that net");
      if (!isLive(state.set, from)) {
        return refusal(
          "denied",
          `Node "${from}" is not a live member of net "${state.settings.name}"`,
        );
      }
      if (op === "sync") return this.#answerSync(state, parms[4], parms[5], parms[6]);
      if (op === "push") return await this.#answerPush(state, from, parms[4]);
      if (op === "psk" && this.#o.onPsk && parms[4] instanceof Uint8Array) {
        return answer(await this.#o.onPsk(state, from, parms[4]));
      }
      return refusal("usage", `Unknown membership operation "${String(op).slice(0, 20)}"`);
    } catch (err) {
      return refusal(rejectCodeOf(err), oneLine(err));
    }
  }

  #answerSync(state: NetState, hashes: unknown, after: unknown, upTo: unknown): Parms {
    if (!Array.isArray(hashes) || hashes.length > MAX_HASHES_PER_MESSAGE || !hashes.every(isHash)) {
      return refusal("codec", `A sync carries at most ${MAX_HASHES_PER_MESSAGE} hashes`);
    }
    const range = readRange(after, upTo);
    if (!range) return refusal("codec", "A sync's range is two ids of at most 120 characters");
    const theirs = new Set(hashes.map((h) => hashToText(h as CID)));
    const idOf = new Map([...state.records.values()].map((r) => [r.bytes, r.id]));
    const extra = this.#o.nets.recordsInOrder(state.settings.name).filter((bytes) => {
      const id = idOf.get(bytes) ?? "";
      return inRange(id, range) && !theirs.has(id);
    });
    const max = this.#o.maxReplyRecords ?? MAX_RECORDS_PER_MESSAGE;
    const wanted = [...theirs].filter((id) => !state.records.has(id))
      .slice(0, max).map(parseHash);
    return answer(boundRecords(extra).slice(0, max), wanted);
  }

  /** A request that never throws: failures come back as rejects. */
  async #request(peer: string, parms: Parms): Promise<Parms> {
    try {
      return await this.#o.peers.request(peer, parms, { timeoutMs: this.#o.requestTimeoutMs });
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
    const result = await this.#o.nets.ingest(state.settings.name, records as Uint8Array[]);
    if (result.refused.length > 0) {
      this.#log("warn", "records-refused", {
        net: state.settings.name,
        peer: from,
        why: result.refused[0],
      });
    }
    if (result.missing.length > 0) queueMicrotask(() => void this.syncWith(state, from));
    return answer(result.added.length);
  }

  /** Starts pushing, dialling and periodic summaries until `signal` aborts. */
  start(signal: AbortSignal): void {
    const offChange = this.#o.nets.onChange((state, added) => {
      void this.push(state, added);
      this.dialMembers(state);
    });
    const offPeers = this.#o.peers.onChange((event) => {
      if (event.type !== "up") return;
      for (const name of this.#o.nets.names()) {
        const state = this.#o.nets.get(name)!;
        if (isLive(state.set, event.peer.id)) void this.syncWith(state, event.peer.id);
      }
    });
    const timer = setInterval(() => void this.round(), this.#o.intervalMs ?? SYNC_INTERVAL_MS);
    for (const name of this.#o.nets.names()) this.dialMembers(this.#o.nets.get(name)!);
    signal.addEventListener("abort", () => {
      clearInterval(timer);
      offChange();
      offPeers();
    }, { once: true });
  }

  /** One summary round: every net, a few connected live members. */
  async round(): Promise<void> {
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

  /** Dials every live member with a grid URL that is not connected (once each). */
  dialMembers(state: NetState): void {
    const connected = new Set(this.#o.peers.connected().map((p) => p.id));
    for (const m of state.set.members.values()) {
      if (m.status !== "live" || m.id === this.#o.nets.selfId || !m.url) continue;
      if (connected.has(m.id) || this.#dialled.has(m.url)) continue;
      this.#dialled.add(m.url);
      try {
        this.#o.peers.dial(m.url);
      } catch (err) {
        this.#log("warn", "member-dial-failed", { url: m.url, why: oneLine(err) });
      }
    }
  }

  /**
   * Exchanges summaries with one peer and pulls and pushes what differs. The
   * summary goes in pages of at most {@link MAX_HASHES_PER_MESSAGE} hashes,
   * each covering a range of ids, so every record of a big net (the newest,
   * a late revoke, included) is compared, and each message stays bounded.
   */
  async syncWith(state: NetState, peer: string): Promise<void> {
    const ids = [...state.records.keys()].sort();
    const size = this.#o.pageSize ?? MAX_HASHES_PER_MESSAGE;
    for (const range of summaryPages(ids, size)) {
      if (!(await this.#syncPage(state, peer, ids, range))) return;
    }
  }

  /** One summary page; false when the peer refused (stop the exchange). */
  async #syncPage(
    state: NetState,
    peer: string,
    ids: string[],
    range: SummaryRange,
  ): Promise<boolean> {
    const net = state.settings.net;
    const hashes = ids.filter((id) => inRange(id, range))
      .map((id) => state.records.get(id)?.hash).filter((h) => h !== undefined);
    const reply = readAnswer(await this.#request(peer, syncMessage(net, hashes, range)));
    if (!reply.ok) {
      this.#log("debug", "sync-refused", { net: state.settings.name, peer, why: reply.reason });
      return false;
    }
    const [records, wanted] = reply.payload;
    if (Array.isArray(records) && records.every((r) => r instanceof Uint8Array)) {
      await this.#o.nets.ingest(
        state.settings.name,
        (records as Uint8Array[]).slice(0, MAX_RECORDS_PER_MESSAGE),
      );
    }
    if (Array.isArray(wanted) && wanted.length > 0 && wanted.every(isHash)) {
      const want = wanted.slice(0, MAX_RECORDS_PER_MESSAGE).map((h) => hashToText(h as CID));
      const bytes = want.map((id) => state.records.get(id)?.bytes).filter((b) => b !== undefined);
      if (bytes.length > 0) {
        await this.#request(peer, pushMessage(net, boundRecords(bytes)));
      }
    }
    return true;
  }

  /**
   * Pushes new records to every connected peer that is or was a member (a
   * revoked member learns of its revocation too). Resolves, once all answered,
   * with how many kept them.
   */
  async push(state: NetState, added: MemberRecord[]): Promise<number> {
    const bytes = boundRecords(added.map((r) => r.bytes));
    const targets = this.#o.peers.connected().filter((p) =>
      p.id !== this.#o.nets.selfId && state.set.members.has(p.id)
    );
    const acks = await Promise.all(targets.map(async (p) => {
      const reply = readAnswer(await this.#request(p.id, pushMessage(state.settings.net, bytes)));
      if (!reply.ok) this.#log("debug", "push-refused", { peer: p.id, why: reply.reason });
      return reply.ok;
    }));
    return acks.filter(Boolean).length;
  }
}

/** A summary's range from a message (both absent: everything), or undefined when malformed. */
function readRange(after: unknown, upTo: unknown): SummaryRange | undefined {
  if (after === undefined && upTo === undefined) return { after: "", upTo: "" };
  if (typeof after !== "string" || typeof upTo !== "string") return undefined;
  if (after.length > 120 || upTo.length > 120) return undefined;
  return { after, upTo };
}
