/**
 * Lookups across the grid. Two modules:
 *
 * - the peer proxy (scope "any"): on a local miss for a get, asks the
 *   connected peers one by one (never the peer the request came from, within
 *   a hop limit), checks what comes back against the hash, and returns the
 *   first verified answer, vouching for it so the kernel writes it into the
 *   local store without hashing it a second time. A peer whose bytes do not match has broken its promise:
 *   its score drops and the kernel's syscall tree records it, and the next
 *   peer is asked.
 * - the blob server: answers a peer's ranged get (`RANGE_PROMISE`) from this
 *   node's kernel (local store first, then its own peers), so a blob larger
 *   than one frame travels as a pipelined series of chunks. A lookup id rides
 *   along; a node that sees the same lookup arrive from a second peer rejects
 *   it (loop prevention).
 *
 * @module
 */
import {
  accept,
  definePromise,
  isAccept,
  type KnownPromise,
  reject,
  rejectReason,
} from "../promises.ts";
import type { CallContext, Module } from "../module.ts";
import { CID, hashText, hashToText, SHA2_256, verifyBytes } from "../hash.ts";
import type { Kernel } from "../kernel.ts";
import { keyComponent } from "../cache_key.ts";
import type { Logger } from "../service.ts";
import { MAX_BLOB } from "../cas.ts";
import type { Parm, Parms } from "../codec.ts";
import type { PeerNetwork } from "../peer_network.ts";
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { GET_PROMISE, getMessage, vouchVerified } from "../cas_module.ts";

/** Bytes per chunk of a ranged get (one frame stays well under the 16 MiB message limit). */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Chunk requests in flight at once per fetch. */
export const CHUNK_WINDOW = 4;
/** Default peer hop limit for lookups. */
export const LOOKUP_HOPS = 6;
/** Bytes in a lookup id. */
export const LOOKUP_ID_BYTES = 16;

/** The ranged get: a slice of the bytes with this hash, plus the whole length. */
export const RANGE_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peer/get-range/v1: I ask for a slice of the bytes whose hash I name, and their whole length. I promise to verify the whole against that hash before I use or share it, and to carry this lookup id unchanged.",
});

/** The blob server module's text. */
export const PEER_BLOB_TEXT =
  "grid/module/peer-blob/v1: I answer ranged gets from my store and, on a miss, from my own peers; every slice I send is cut from bytes I verified against their hash.";
/** Hash of the blob server module. */
export const PEER_BLOB_MODULE: CID = hashText(PEER_BLOB_TEXT);

/** The peer proxy module's text. */
export const PEER_PROXY_TEXT =
  "grid/module/peer-proxy/v1: On a local miss I ask my peers for content by hash, and I hand back only bytes that verify against it; a peer that sends wrong bytes loses my trust.";
/** Hash of the peer proxy module. */
export const PEER_PROXY_MODULE: CID = hashText(PEER_PROXY_TEXT);

/** `[RANGE, BLOB, cid, offset, length, lookupId]`. */
export function rangeMessage(
  cid: CID,
  offset: number,
  length: number,
  lookupId: Uint8Array,
): Parms {
  return [RANGE_PROMISE.cid, PEER_BLOB_MODULE, cid, offset, length, lookupId];
}

/** The syscall-tree module name under which a peer's outcomes are recorded. */
export function peerModuleName(id: string): string {
  return `peer:${id}`;
}

const lookupContext = new AsyncLocalStorage<Uint8Array>();

/** Most lookup ids a {@link LookupLedger} remembers. */
export const MAX_LOOKUPS = 100_000;

/** Defaults for the proxy's memory limits (see {@link PeerProxyOptions}). */
export const PROXY_LIMITS = {
  /** Largest blob a lookup accepts from a peer (the store's own limit). */
  maxBlobBytes: MAX_BLOB,
  /** Bytes held at once from one answering peer, over all its fetches. */
  maxPeerBytes: 2 * MAX_BLOB,
  /** Bytes held at once by all of this proxy's fetches together. */
  maxTotalBytes: 4 * MAX_BLOB,
  /** Lookups one requesting peer may have this proxy run at once. */
  maxLookupsPerPeer: 8,
} as const;

/**
 * Bytes reserved per key against a cap: a fetch reserves each slice as it
 * lands, so what a peer can make this node hold is what it really sent, never
 * what it claims.
 */
export class ByteBudget {
  #held = new Map<string, number>();
  #cap: number;
  /** A budget of `cap` bytes per key. */
  constructor(cap: number) {
    this.#cap = cap;
  }
  /** Reserves `n` bytes for `key`; false (and nothing reserved) when that would pass the cap. */
  reserve(key: string, n: number): boolean {
    const held = this.#held.get(key) ?? 0;
    if (held + n > this.#cap) return false;
    this.#held.set(key, held + n);
    return true;
  }
  /** Returns `n` bytes of `key`'s reservation. */
  release(key: string, n: number): void {
    const left = (this.#held.get(key) ?? 0) - n;
    if (left > 0) this.#held.set(key, left);
    else this.#held.delete(key);
  }
  /** Bytes reserved for `key` now. */
  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }
}

/**
 * Lookup ids this node has seen recently, with where each came from
 * ("local" for lookups it started). Shared by the proxy and the blob server
 * of one node so a lookup that comes back around is refused.
 */
export class LookupLedger {
  #seen = new Map<string, { origin: string; at: number }>();
  #rememberMs: number;
  /** Remembers each lookup id for `rememberMs`. */
  constructor(rememberMs = 60_000) {
    this.#rememberMs = rememberMs;
  }
  /** Records `id` from `origin`; false when it was already seen from elsewhere (a loop). */
  mark(id: Uint8Array, origin: string): boolean {
    const now = Date.now();
    for (const [k, v] of this.#seen) {
      // Insertion order: the rest are newer. Bounded in count too, whatever peers send.
      if (now - v.at <= this.#rememberMs && this.#seen.size < MAX_LOOKUPS) break;
      this.#seen.delete(k);
    }
    const key = id.toHex();
    const prior = this.#seen.get(key);
    if (prior && prior.origin !== origin) return false;
    this.#seen.delete(key);
    this.#seen.set(key, { origin, at: now });
    return true;
  }
}

/** Options for {@link peerProxyModule}. */
export interface PeerProxyOptions {
  /** The kernel whose syscall tree records peers' kept and broken promises. */
  kernel: Kernel;
  /** The peers to ask; scores are kept when it offers `adjustScore`/`score`. */
  peers: PeerNetwork & {
    adjustScore?(id: string, delta: number): number;
    score?(id: string): number;
  };
  /** Event log. */
  log?: Logger;
  /** Requests that would exceed this many hops are not forwarded. */
  maxHops?: number;
  /** Timeout per chunk request. */
  requestTimeoutMs?: number;
  /** Chunk size (tests and benchmarks). */
  chunkBytes?: number;
  /** Shared with this node's blob server (see {@link LookupLedger}). */
  ledger?: LookupLedger;
  /** Largest blob accepted from a peer (default {@link PROXY_LIMITS}). */
  maxBlobBytes?: number;
  /** Bytes held at once from one answering peer (default {@link PROXY_LIMITS}). */
  maxPeerBytes?: number;
  /** Lookups one requesting peer may run here at once (default {@link PROXY_LIMITS}). */
  maxLookupsPerPeer?: number;
  /** Bytes held by all fetches together (default {@link PROXY_LIMITS}). */
  maxTotalBytes?: number;
}

/** A whole blob from one peer (`matches`: it hashes to the CID asked for), or why not. */
type FetchResult =
  | { ok: true; bytes: Uint8Array; matches: boolean }
  | { ok: false; why: string; code: string };

/** Score change for a peer that sent bytes failing their hash. */
export const BROKEN_PENALTY: number = -5;

/**
 * The one-line reason a proxy lookup found nothing: how many peers were
 * asked, how many sent wrong bytes, and the first failure other than a plain
 * miss (a remote's own "no peer has it" is never repeated inside ours).
 */
export function missReason(asked: number, broken: number, failures: string[]): string {
  const parts = [`asked ${asked}`];
  if (broken > 0) parts.push(`${broken} sent wrong bytes`);
  if (failures.length > 0) parts.push(`${failures.length} failed: ${failures[0]}`);
  return `no peer has it (${parts.join(", ")})`;
}

/** The proxy that asks peers on a local miss. */
export function peerProxyModule(options: PeerProxyOptions): Module {
  const { kernel, peers } = options;
  const log = options.log ?? (() => {});
  const maxHops = options.maxHops ?? LOOKUP_HOPS;
  const maxLookups = options.maxLookupsPerPeer ?? PROXY_LIMITS.maxLookupsPerPeer;
  const budget = new ByteBudget(options.maxPeerBytes ?? PROXY_LIMITS.maxPeerBytes);
  const allBudget = new ByteBudget(options.maxTotalBytes ?? PROXY_LIMITS.maxTotalBytes);
  const running = new Map<string, number>();

  const lookup = async (
    parms: Parms,
    ctx: CallContext,
    cid: CID,
    candidates: string[],
  ): Promise<Parms> => {
    const key = parms.slice(0, 3).map((p) => keyComponent(p as Parm));
    let lookupId = lookupContext.getStore();
    if (!lookupId) {
      lookupId = crypto.getRandomValues(new Uint8Array(LOOKUP_ID_BYTES));
      options.ledger?.mark(lookupId, "local");
    }
    const order = orderPeers(kernel, key, candidates, peers.score?.bind(peers));
    const failures: string[] = [];
    let broken = 0;
    for (const id of order) {
      log("debug", "peer-fetch-start", { peer: id, hash: hashToText(cid) });
      const got = await fetchBlob(peers, id, cid, {
        lookupId,
        hops: ctx.hops + 1,
        signal: ctx.signal,
        timeoutMs: options.requestTimeoutMs,
        chunkBytes: options.chunkBytes ?? CHUNK_BYTES,
        maxBlobBytes: options.maxBlobBytes ?? PROXY_LIMITS.maxBlobBytes,
        budget,
        allBudget,
      });
      if (!got.ok) {
        // A miss or a refused loop is routine; anything else is worth naming.
        if (got.code !== "not-found" && got.code !== "route") failures.push(got.why);
        continue;
      }
      if (!got.matches) {
        broken++;
        const score = peers.adjustScore?.(id, BROKEN_PENALTY);
        kernel.reportBroken(parms, peerModuleName(id));
        log("warn", "peer-broken-promise", {
          peer: id,
          hash: hashToText(cid),
          why: "bytes do not match the hash",
          score,
        });
        continue;
      }
      // Hashed here, at the trust boundary: the kernel's verify need not hash it again.
      vouchVerified(cid, got.bytes);
      peers.adjustScore?.(id, 1);
      kernel.tree.record(key, peerModuleName(id), "accept");
      log("debug", "peer-fetched", { peer: id, hash: hashToText(cid), bytes: got.bytes.length });
      return accept(got.bytes);
    }
    return reject("not-found", missReason(order.length, broken, failures));
  };

  return {
    id: PEER_PROXY_MODULE,
    name: "peer-proxy",
    promise: PEER_PROXY_TEXT,
    scope: "any",
    async accept(parms: Parms, ctx: CallContext): Promise<Parms> {
      if (!GET_PROMISE.cid.equals(parms[0])) {
        return reject("not-accepted", "The peer proxy forwards only gets by hash");
      }
      const cid = CID.asCID(parms[2]);
      if (!cid) return reject("codec", "A get needs a hash in slot 2");
      if (ctx.hops + 1 > maxHops) return reject("route", `Peer hop limit ${maxHops} reached`);
      const from = ctx.origin.startsWith("peer:") ? ctx.origin.slice(5) : undefined;
      const candidates = peers.connected().map((p) => p.id).filter((id) => id !== from);
      if (candidates.length === 0) return reject("not-found", "not here, and no peer to ask");
      if (from === undefined) return await lookup(parms, ctx, cid, candidates);
      const now = running.get(from) ?? 0;
      if (now >= maxLookups) {
        return reject("peer", `Too many lookups in flight from you (limit ${maxLookups})`);
      }
      running.set(from, now + 1);
      try {
        return await lookup(parms, ctx, cid, candidates);
      } finally {
        const left = (running.get(from) ?? 1) - 1;
        if (left > 0) running.set(from, left);
        else running.delete(from);
      }
    },
  };
}

/** Orders peers: the syscall tree's history first (broken ones last), then by score. */
function orderPeers(
  kernel: Kernel,
  key: string[],
  ids: string[],
  score?: (id: string) => number,
): string[] {
  const ranked = [...ids].sort((a, b) => (score?.(b) ?? 0) - (score?.(a) ?? 0));
  const names = ranked.map(peerModuleName);
  const routed = kernel.tree.route(key, names).map((n) => n.slice(5));
  // route() drops modules whose last outcome here was a reject; peers are never
  // recorded as rejecting, but keep any stragglers at the end all the same.
  return [...routed, ...ranked.filter((id) => !routed.includes(id))];
}

interface FetchOptions {
  lookupId: Uint8Array;
  hops: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  chunkBytes: number;
  /** Largest length a peer may claim. */
  maxBlobBytes: number;
  /** Bytes held per answering peer; every slice is reserved as it lands. */
  budget: ByteBudget;
  /** Bytes held by all fetches together, under the key {@link ALL}. */
  allBudget: ByteBudget;
}

const ALL = "all";

/**
 * Fetches a whole blob from one peer by ranged gets, `CHUNK_WINDOW` at a
 * time. Nothing is allocated for the length the peer claims: each slice is
 * kept as it lands (reserved against the peer's byte budget) and hashed in
 * order, and the slices are joined only once all of them are in.
 */
async function fetchBlob(
  peers: PeerNetwork,
  id: string,
  cid: CID,
  options: FetchOptions,
): Promise<FetchResult> {
  const ask = (offset: number) =>
    peers.request(id, rangeMessage(cid, offset, options.chunkBytes, options.lookupId), {
      hops: options.hops,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  const first = await ask(0);
  if (!isAccept(first)) {
    const { code, reason } = rejectReason(first);
    return { ok: false, why: reason, code };
  }
  const [, total, head] = first;
  if (typeof total !== "number" || !Number.isSafeInteger(total) || total < 0) {
    return { ok: false, why: "peer sent an invalid length", code: "peer" };
  }
  if (total > options.maxBlobBytes) {
    return {
      ok: false,
      why: `peer claims ${total} bytes, over the limit of ${options.maxBlobBytes}`,
      code: "peer",
    };
  }
  if (!(head instanceof Uint8Array) || head.length !== Math.min(total, options.chunkBytes)) {
    return { ok: false, why: "peer sent a first slice of the wrong size", code: "peer" };
  }
  if (total <= options.chunkBytes) {
    return { ok: true, bytes: head, matches: verifyBytes(cid, head) };
  }
  let reserved = 0;
  /** Reserves `n` more bytes of this fetch; the failure, if either budget is spent. */
  const reserve = (n: number): { why: string; code: string } | undefined => {
    if (!options.budget.reserve(id, n)) {
      return { why: `peer "${id}" is over its byte budget`, code: "peer" };
    }
    if (!options.allBudget.reserve(ALL, n)) {
      options.budget.release(id, n);
      return { why: "the proxy is holding all the bytes it may; try again later", code: "peer" };
    }
    reserved += n;
    return undefined;
  };
  try {
    const refused = reserve(head.length);
    if (refused) return { ok: false, ...refused };
    const slices: Uint8Array[] = [head];
    // Hash the slices in order as they land, so checking overlaps the transfer.
    const hasher = cid.multihash.code === SHA2_256 ? createHash("sha256") : undefined;
    let hashed = 1;
    const land = (index: number, slice: Uint8Array) => {
      slices[index] = slice;
      while (slices[hashed] !== undefined) hasher?.update(slices[hashed++]);
    };
    hasher?.update(head);
    let next = options.chunkBytes;
    let failure: { why: string; code: string } | undefined;
    const worker = async () => {
      while (next < total && !failure) {
        const offset = next;
        next += options.chunkBytes;
        const reply = await ask(offset);
        const want = Math.min(options.chunkBytes, total - offset);
        if (failure) return;
        if (!isAccept(reply)) {
          const { code, reason } = rejectReason(reply);
          failure = { why: reason, code: code === "not-found" ? "peer" : code };
        } else if (reply[1] !== total) {
          failure = { why: "peer changed the length mid-transfer", code: "peer" };
        } else if (!(reply[2] instanceof Uint8Array) || reply[2].length !== want) {
          failure = { why: "peer sent a slice of the wrong size", code: "peer" };
        } else {
          failure = reserve(want);
          if (failure) return;
          land(offset / options.chunkBytes, reply[2]);
        }
      }
    };
    await Promise.all(Array.from({ length: CHUNK_WINDOW }, worker));
    if (failure) return { ok: false, ...failure };
    const whole = joinSlices(slices, total);
    const matches = hasher
      ? equalBytes(new Uint8Array(hasher.digest()), cid.multihash.digest)
      : verifyBytes(cid, whole);
    return { ok: true, bytes: whole, matches };
  } finally {
    options.budget.release(id, reserved);
    options.allBudget.release(ALL, reserved);
  }
}

function joinSlices(slices: Uint8Array[], total: number): Uint8Array {
  const whole = new Uint8Array(total);
  let at = 0;
  for (const slice of slices) {
    whole.set(slice, at);
    at += slice.length;
  }
  return whole;
}

function equalBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** Options for {@link peerBlobModule}. */
export interface PeerBlobOptions {
  /** Event log. */
  log?: Logger;
  /** Largest slice served. */
  chunkBytes?: number;
  /** Bytes of recently served blobs kept in memory for the following slices. */
  memoryBytes?: number;
  /** How long a served blob is kept in memory. */
  rememberMs?: number;
  /** Shared with this node's proxy (see {@link LookupLedger}). */
  ledger?: LookupLedger;
}

interface Held {
  bytes: Uint8Array;
  at: number;
}

/** The module that answers ranged gets from peers. */
export function peerBlobModule(options: PeerBlobOptions = {}): Module {
  const chunk = options.chunkBytes ?? CHUNK_BYTES;
  const rememberMs = options.rememberMs ?? 30_000;
  const memoryBytes = options.memoryBytes ?? 256 * 1024 * 1024;
  const log = options.log ?? (() => {});
  const ledger = options.ledger ?? new LookupLedger();
  const held = new Map<string, Held>();
  const loading = new Map<string, Promise<Uint8Array | Parms>>();

  const forget = (now: number) => {
    for (const [k, v] of held) if (now - v.at > rememberMs) held.delete(k);
    let total = [...held.values()].reduce((n, h) => n + h.bytes.length, 0);
    for (const [k, v] of held) {
      if (total <= memoryBytes) break;
      held.delete(k);
      total -= v.bytes.length;
    }
  };

  const load = (cid: CID, ctx: CallContext, lookupId: Uint8Array): Promise<Uint8Array | Parms> => {
    const text = hashToText(cid);
    const hit = held.get(text);
    if (hit) return Promise.resolve(hit.bytes);
    let pending = loading.get(text);
    if (!pending) {
      pending = lookupContext.run(
        lookupId,
        () => ctx.call(getMessage(cid), { origin: ctx.origin, hops: ctx.hops, signal: ctx.signal }),
      )
        .then((reply): Uint8Array | Parms => {
          if (!isAccept(reply) || !(reply[1] instanceof Uint8Array)) return reply;
          const bytes = reply[1];
          if (bytes.length > chunk) held.set(text, { bytes, at: Date.now() });
          return bytes;
        })
        .finally(() => loading.delete(text));
      loading.set(text, pending);
    }
    return pending;
  };

  return {
    id: PEER_BLOB_MODULE,
    name: "peer-blob",
    promise: PEER_BLOB_TEXT,
    scope: "own",
    async accept(parms: Parms, ctx: CallContext): Promise<Parms> {
      if (!RANGE_PROMISE.cid.equals(parms[0])) {
        return reject("not-accepted", "The blob server answers only ranged gets");
      }
      const [, , hash, offset, length, lookupId] = parms;
      const cid = CID.asCID(hash);
      if (!cid) return reject("codec", "A ranged get needs a hash in slot 2");
      if (
        typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0 ||
        typeof length !== "number" || !Number.isSafeInteger(length) || length < 0
      ) {
        return reject("codec", "A ranged get needs a whole offset and length");
      }
      if (!(lookupId instanceof Uint8Array) || lookupId.length !== LOOKUP_ID_BYTES) {
        return reject("codec", `A ranged get needs a ${LOOKUP_ID_BYTES}-byte lookup id`);
      }
      const now = Date.now();
      forget(now);
      if (!ledger.mark(lookupId, ctx.origin)) {
        log("debug", "peer-loop-refused", { from: ctx.origin });
        return reject("route", "Loop: this lookup already reached this node another way");
      }
      const got = await load(cid, ctx, lookupId);
      if (!(got instanceof Uint8Array)) return got;
      if (offset > got.length) return reject("usage", `Offset ${offset} is past the end`);
      const hit = held.get(hashToText(cid));
      if (hit) hit.at = now;
      return accept(got.length, got.subarray(offset, offset + Math.min(length, chunk)));
    },
  };
}
