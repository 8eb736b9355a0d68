/**
 * The codec's fast paths, for what messages are mostly made of: safe
 * integers, byte and text strings, arrays, CIDs, true, false and null (and
 * maps, when decoding). A writer and a reader over plain bytes with no
 * tokens and no intermediate buffers. Each gives up on anything else (a
 * float, a map to encode, a tag it does not know, anything malformed or over
 * a limit) and codec.ts then runs cborg on the whole value, so what the
 * codec accepts, refuses and produces is cborg's in every case; the codec
 * tests compare the two on random and mutated input.
 *
 * @module
 */
import { asHash, CID } from "./hash.ts";

/** CBOR tag number of the grid envelope: the bytes 0x67726964 spell "grid". */
export const GRID_TAG = 1735551332;
/** CBOR tag number for a CID (IPLD). */
export const CID_TAG = 42;
/** Default deepest nesting of arrays, maps and tags accepted. */
export const MAX_DEPTH = 32;

/** {@link writeValue}: the destination is too small. */
export const NO_ROOM = -1;
/** {@link writeValue}: a value it leaves to cborg (maps, floats, anything unusual). */
export const NOT_MINE = -2;

/**
 * Tag-42 payload (0x00 + binary CID) per CID instance, built once: the same
 * promise and module hashes lead every message, so each is encoded once.
 * Only read, never written.
 */
const cidPayloads = new WeakMap<CID, Uint8Array>();

/** The tag-42 payload of `cid` (0x00 then its bytes). */
export function cidPayload(cid: CID): Uint8Array {
  let bytes = cidPayloads.get(cid);
  if (!bytes) {
    bytes = new Uint8Array(cid.bytes.length + 1);
    bytes.set(cid.bytes, 1);
    cidPayloads.set(cid, bytes);
  }
  return bytes;
}

/** Most decoded CIDs kept for reuse (see {@link internCid}). */
const MAX_INTERNED_CIDS = 4096;
/** Decoded CIDs by a number made of their payload's length and last four bytes. */
const interned = new Map<number, CID[]>();
let internedCount = 0;

/**
 * The CID whose tag-42 payload is `bytes[start, end)` (0x00 then a binary
 * CID; the caller checked the 0x00). The same few hashes (promises, modules)
 * lead almost every message, so a CID already decoded from the very same
 * bytes is returned again: CID.decode is deterministic and a CID is
 * immutable, and a reused instance keeps its cached text form, which the
 * kernel asks for on every call. Looked up without copying the bytes. The
 * table is bounded: when full it is emptied, so hashes chosen by a peer cost
 * at most a re-decode. Throws what CID.decode throws for bad bytes.
 */
export function internCid(bytes: Uint8Array, start: number, end: number): CID {
  const length = end - start;
  const key = length >= 5
    ? (((bytes[end - 4] << 24) | (bytes[end - 3] << 16) | (bytes[end - 2] << 8) |
      bytes[end - 1]) ^ length) >>> 0
    : length;
  const bucket = interned.get(key);
  if (bucket) {
    for (const cid of bucket) {
      const payload = cidPayload(cid);
      if (payload.length !== length) continue;
      let same = true;
      for (let i = 1; i < length; i++) {
        if (payload[i] !== bytes[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cid;
    }
  }
  const cid = CID.decode(bytes.slice(start + 1, end)); // a copy: the CID keeps it
  if (internedCount >= MAX_INTERNED_CIDS) {
    interned.clear();
    internedCount = 0;
  }
  const list = interned.get(key);
  if (list) list.push(cid);
  else interned.set(key, [cid]);
  internedCount++;
  return cid;
}

/** Writes a CBOR head (major type, argument `n`, a safe integer) at `at`; the end, or NO_ROOM. */
function writeHead(dest: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    if (at + 1 > dest.length) return NO_ROOM;
    dest[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    if (at + 2 > dest.length) return NO_ROOM;
    dest[at] = m | 24;
    dest[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    if (at + 3 > dest.length) return NO_ROOM;
    dest[at] = m | 25;
    dest[at + 1] = n >> 8;
    dest[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x1_0000_0000) {
    if (at + 5 > dest.length) return NO_ROOM;
    dest[at] = m | 26;
    dest[at + 1] = n >>> 24;
    dest[at + 2] = (n >> 16) & 0xff;
    dest[at + 3] = (n >> 8) & 0xff;
    dest[at + 4] = n & 0xff;
    return at + 5;
  }
  if (at + 9 > dest.length) return NO_ROOM;
  const high = Math.floor(n / 0x1_0000_0000);
  const low = n >>> 0;
  dest[at] = m | 27;
  dest[at + 1] = high >>> 24;
  dest[at + 2] = (high >> 16) & 0xff;
  dest[at + 3] = (high >> 8) & 0xff;
  dest[at + 4] = high & 0xff;
  dest[at + 5] = low >>> 24;
  dest[at + 6] = (low >> 16) & 0xff;
  dest[at + 7] = (low >> 8) & 0xff;
  dest[at + 8] = low & 0xff;
  return at + 9;
}

const UTF8_ENCODER = new TextEncoder();

/** Writes a text string; NOT_MINE for a string with a lone surrogate (cborg's path refuses it). */
function writeText(dest: Uint8Array, at: number, text: string): number {
  const n = text.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (text.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const start = writeHead(dest, at, 3, n);
    if (start < 0 || start + n > dest.length) return NO_ROOM;
    for (let i = 0; i < n; i++) dest[start + i] = text.charCodeAt(i);
    return start + n;
  }
  if (!text.isWellFormed()) return NOT_MINE;
  let length = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      length += 4; // a surrogate pair (the string is well-formed, so the low half follows)
      i++;
    } else length += 3;
  }
  const start = writeHead(dest, at, 3, length);
  if (start < 0 || start + length > dest.length) return NO_ROOM;
  const { written } = UTF8_ENCODER.encodeInto(text, dest.subarray(start, start + length));
  if (written !== length) throw new Error("UTF-8 length mismatch"); // only if the count is wrong
  return start + length;
}

function writeByte(dest: Uint8Array, at: number, byte: number): number {
  if (at + 1 > dest.length) return NO_ROOM;
  dest[at] = byte;
  return at + 1;
}

/**
 * Writes `value` at `at` exactly as cborg encodes it with the codec's
 * options. Returns the end, or NO_ROOM, or NOT_MINE for anything it leaves
 * to cborg (maps, floats, undefined, ...).
 */
export function writeValue(dest: Uint8Array, at: number, value: unknown, depth: number): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) return NOT_MINE;
    return value >= 0 ? writeHead(dest, at, 0, value) : writeHead(dest, at, 1, -1 - value);
  }
  if (value instanceof Uint8Array) {
    const start = writeHead(dest, at, 2, value.length);
    if (start < 0 || start + value.length > dest.length) return NO_ROOM;
    dest.set(value, start);
    return start + value.length;
  }
  if (typeof value === "string") return writeText(dest, at, value);
  if (Array.isArray(value)) {
    if (depth > MAX_DEPTH) return NOT_MINE; // cborg says what is wrong (a cycle, say)
    let end = writeHead(dest, at, 4, value.length);
    for (let i = 0; i < value.length && end >= 0; i++) {
      end = writeValue(dest, end, value[i], depth + 1);
    }
    return end;
  }
  if (value === null) return writeByte(dest, at, 0xf6);
  if (value === true) return writeByte(dest, at, 0xf5);
  if (value === false) return writeByte(dest, at, 0xf4);
  const cid = asHash(value);
  if (cid) {
    if (at + 2 > dest.length) return NO_ROOM;
    dest[at] = 0xd8; // a tag whose number takes one byte
    dest[at + 1] = CID_TAG;
    return writeValue(dest, at + 2, cidPayload(cid), depth);
  }
  return NOT_MINE;
}

/** What {@link readValue} returns when it leaves the input to cborg. */
export const GIVE_UP: unique symbol = Symbol("give up");

/** A marker for the decoded envelope, so a nested grid tag can be told apart. */
export class Envelope {
  /** Wraps the envelope's content. */
  constructor(readonly value: unknown) {}
}

/** Like cborg's decoder (a leading BOM is dropped), but refusing bytes that are not UTF-8. */
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });

/** One pass over one input: where it is, and how deep it may nest. */
class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array, readonly maxDepth: number) {}
}

/**
 * The argument of the head at `r.at` (major type already read from
 * `initial`), minimally encoded and a safe integer; -1 for anything else
 * (indefinite lengths, 64-bit values past 2^53, non-minimal heads, truncation).
 */
function readArgument(r: Reader, initial: number): number {
  const info = initial & 0x1f;
  const bytes = r.bytes;
  const at = r.at;
  if (info < 24) {
    r.at = at + 1;
    return info;
  }
  if (info === 24) {
    if (at + 2 > bytes.length) return -1;
    const n = bytes[at + 1];
    if (n < 24) return -1;
    r.at = at + 2;
    return n;
  }
  if (info === 25) {
    if (at + 3 > bytes.length) return -1;
    const n = (bytes[at + 1] << 8) | bytes[at + 2];
    if (n < 0x100) return -1;
    r.at = at + 3;
    return n;
  }
  if (info === 26) {
    if (at + 5 > bytes.length) return -1;
    const n = ((bytes[at + 1] << 24) | (bytes[at + 2] << 16) | (bytes[at + 3] << 8) |
      bytes[at + 4]) >>> 0;
    if (n < 0x10000) return -1;
    r.at = at + 5;
    return n;
  }
  if (info === 27) {
    if (at + 9 > bytes.length) return -1;
    const high = ((bytes[at + 1] << 24) | (bytes[at + 2] << 16) | (bytes[at + 3] << 8) |
      bytes[at + 4]) >>> 0;
    const low = ((bytes[at + 5] << 24) | (bytes[at + 6] << 16) | (bytes[at + 7] << 8) |
      bytes[at + 8]) >>> 0;
    // At least 2^32 (minimal), below 2^53 - 1 (a safe integer, also once negated).
    if (high === 0 || high >= 0x1f_ffff) return -1;
    r.at = at + 9;
    return high * 0x1_0000_0000 + low;
  }
  return -1;
}

/** Text of `bytes[start, end)`, or GIVE_UP when it is not valid UTF-8. */
function readText(bytes: Uint8Array, start: number, end: number): string | typeof GIVE_UP {
  if (end - start <= 32) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode(...bytes.subarray(start, end));
  }
  try {
    return UTF8_DECODER.decode(bytes.subarray(start, end));
  } catch {
    return GIVE_UP; // not UTF-8: cborg's path says so
  }
}

/**
 * Reads one value at `r.at`, as cborg with the codec's strict options would
 * decode it (byte strings cut from the input with its own `slice`, as cborg
 * does), or GIVE_UP. `envelope`: a grid tag is allowed here (the start of a
 * message).
 */
export function readValue(r: Reader, depth: number, envelope: boolean): unknown {
  const bytes = r.bytes;
  if (r.at >= bytes.length) return GIVE_UP;
  const initial = bytes[r.at];
  const major = initial >> 5;
  if (major === 7) {
    r.at++;
    if (initial === 0xf4) return false;
    if (initial === 0xf5) return true;
    if (initial === 0xf6) return null;
    return GIVE_UP; // floats, undefined, other simple values
  }
  const n = readArgument(r, initial);
  if (n < 0) return GIVE_UP;
  switch (major) {
    case 0:
      return n;
    case 1:
      return -1 - n;
    case 2: {
      const start = r.at;
      if (start + n > bytes.length) return GIVE_UP;
      r.at = start + n;
      return bytes.slice(start, start + n);
    }
    case 3: {
      const start = r.at;
      if (start + n > bytes.length) return GIVE_UP;
      r.at = start + n;
      return readText(bytes, start, start + n);
    }
    case 4: {
      if (n > bytes.length - r.at) return GIVE_UP; // each item takes a byte at least
      if (n > 0 && depth + 1 > r.maxDepth) return GIVE_UP;
      const out = new Array(n);
      for (let i = 0; i < n; i++) {
        const item = readValue(r, depth + 1, false);
        if (item === GIVE_UP) return GIVE_UP;
        out[i] = item;
      }
      return out;
    }
    case 5: {
      if (n > bytes.length - r.at) return GIVE_UP;
      if (n > 0 && depth + 1 > r.maxDepth) return GIVE_UP;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        if (r.at >= bytes.length || bytes[r.at] >> 5 !== 3) return GIVE_UP; // keys are text
        const key = readValue(r, depth + 1, false);
        if (typeof key !== "string" || key === "__proto__" || Object.hasOwn(out, key)) {
          return GIVE_UP;
        }
        const item = readValue(r, depth + 1, false);
        if (item === GIVE_UP) return GIVE_UP;
        out[key] = item;
      }
      return out;
    }
    case 6: {
      if (depth + 1 > r.maxDepth) return GIVE_UP;
      if (n === CID_TAG) {
        const head = r.at;
        if (head >= bytes.length || bytes[head] >> 5 !== 2) return GIVE_UP;
        const length = readArgument(r, bytes[head]);
        const start = r.at;
        if (length < 2 || start + length > bytes.length || bytes[start] !== 0) return GIVE_UP;
        r.at = start + length;
        try {
          return internCid(bytes, start, start + length);
        } catch {
          return GIVE_UP; // not a CID: cborg's path says what is wrong
        }
      }
      if (n === GRID_TAG && envelope) {
        const inner = readValue(r, depth + 1, false);
        return inner === GIVE_UP ? GIVE_UP : new Envelope(inner);
      }
      return GIVE_UP;
    }
  }
  return GIVE_UP;
}

/**
 * Decodes all of `bytes` on the fast path: the value (an {@link Envelope}
 * for a grid message when `envelope`), or GIVE_UP for cborg to decode.
 */
export function readAll(bytes: Uint8Array, maxDepth: number, envelope: boolean): unknown {
  const r = new Reader(bytes, maxDepth);
  const value = readValue(r, 0, envelope);
  return r.at === bytes.length ? value : GIVE_UP;
}
