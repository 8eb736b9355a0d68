/**
 * The codec's own writer and its fast reader, over plain bytes with no
 * tokens and no intermediate buffers.
 *
 * The writer writes every value the codec carries in Grid-CBOR's canonical
 * form (RFC 8949 §4.2.1 core deterministic encoding: shortest heads, the
 * shortest float that keeps the value exactly, map keys in bytewise order of
 * their encodings, definite lengths), and gives up (NOT_MINE) only on what
 * the codec refuses, so that cborg says what is wrong. cborg's own encoder
 * cannot be the writer: its half-float code does not find the shortest form
 * of most subnormal halves (3 × 2^-24 comes out as a float32), and it would
 * write such a value in other bytes than it was read from.
 *
 * The reader reads what messages are mostly made of (integers, strings,
 * arrays, text-keyed maps, CIDs, true/false/null), checking the canonical
 * rules as it goes, and gives up on anything else (floats, other tags, big
 * integers, other map keys, anything malformed or over a limit); codec.ts
 * then runs cborg on the whole input, so what the codec accepts, refuses and
 * says is cborg's (with codec.ts's canonical checks) in every case. The
 * codec tests compare both ways on random and mutated input.
 *
 * `kernel/base/cbor_subset.ts` is a second, smaller reader and writer for the
 * command line's short way to the agent. It cannot share this code: this
 * file needs npm:multiformats (CIDs) and npm:cborg (`Tagged`), which that
 * path must not load, and it cannot use that one's, which knows a few forms
 * and writes through chunk lists rather than into a caller's buffer.
 *
 * @module
 */
import { Tagged } from "cborg";
import { asHash, CID } from "./hash.ts";
import { CID_TAG, GRID_TAG, MAX_DEPTH } from "./base/wire.ts";

/**
 * A float whose value is a whole number, as read from the wire: `1.0` is
 * not `1` in CBOR (f93c00, not 01), and a JavaScript number cannot tell
 * them apart, so decoding wraps it and encoding writes it back as a float.
 * Other floats (1.5, -0, NaN, ±Infinity, 1e300) are plain numbers: a number
 * that is not a safe integer is always written as a float.
 */
export class CborFloat {
  /** The float's value, a safe integer. */
  readonly value: number;
  /** Wraps `value`, a whole number read as (or to be written as) a float. */
  constructor(value: number) {
    this.value = value;
  }
}

/** {@link writeValue}: the destination is too small. */
export const NO_ROOM = -1;
/** {@link writeValue}: a value it leaves to cborg (what the codec refuses: cborg says why). */
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
  // Only a CID that writes back its very bytes: another reading (a varint in
  // more bytes than needed, say) would change the message on re-encoding.
  const written = cid.bytes;
  if (written.length !== length - 1) throw new Error("CID bytes are not in canonical form");
  for (let i = 0; i < written.length; i++) {
    if (written[i] !== bytes[start + 1 + i]) throw new Error("CID bytes are not in canonical form");
  }
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

const FLOAT_VIEW = new DataView(new ArrayBuffer(8));

/**
 * The IEEE 754 half-precision bits of `x` when a half holds it exactly
 * (±Infinity included), else -1. NaN is the caller's (always f97e00).
 */
export function halfBits(x: number): number {
  if (x === Infinity) return 0x7c00;
  if (x === -Infinity) return 0xfc00;
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = sign ? -x : x;
  if (a >= 65520 || a < 2 ** -24) return -1;
  if (a < 2 ** -14) {
    const m = a * 2 ** 24; // exact: a power of two
    return Number.isInteger(m) ? sign | m : -1; // a subnormal half
  }
  FLOAT_VIEW.setFloat64(0, a);
  const high = FLOAT_VIEW.getUint32(0);
  // A half keeps 10 of the 52 mantissa bits: the other 42 must be zero.
  if (FLOAT_VIEW.getUint32(4) !== 0 || (high & 0x3ff) !== 0) return -1;
  const exponent = ((high >>> 20) & 0x7ff) - 1023;
  if (exponent > 15) return -1;
  return sign | ((exponent + 15) << 10) | ((high & 0xfffff) >>> 10);
}

/**
 * Bytes the canonical encoding of float `x` takes: 3 (half; NaN is always
 * f97e00), 5 (single) or 9 (double), the shortest that holds it exactly.
 */
export function floatWidth(x: number): number {
  if (x !== x || halfBits(x) >= 0) return 3;
  return Math.fround(x) === x ? 5 : 9;
}

/** Writes `x` as a float in its shortest exact form; the end, or NO_ROOM. */
function writeFloat(dest: Uint8Array, at: number, x: number): number {
  const width = floatWidth(x);
  if (at + width > dest.length) return NO_ROOM;
  if (width === 3) {
    const half = x !== x ? 0x7e00 : halfBits(x);
    dest[at] = 0xf9;
    dest[at + 1] = half >> 8;
    dest[at + 2] = half & 0xff;
  } else if (width === 5) {
    FLOAT_VIEW.setFloat32(0, x);
    dest[at] = 0xfa;
    for (let i = 0; i < 4; i++) dest[at + 1 + i] = FLOAT_VIEW.getUint8(i);
  } else {
    FLOAT_VIEW.setFloat64(0, x);
    dest[at] = 0xfb;
    for (let i = 0; i < 8; i++) dest[at + 1 + i] = FLOAT_VIEW.getUint8(i);
  }
  return at + width;
}

const TWO_64 = 1n << 64n;

/** Writes a bigint as a CBOR integer (at most 64 bits); NOT_MINE past that. */
function writeBigInt(dest: Uint8Array, at: number, n: bigint): number {
  const major = n < 0n ? 1 : 0;
  const argument = n < 0n ? -1n - n : n;
  if (argument >= TWO_64) return NOT_MINE; // no bignum tags: cborg says so
  if (argument <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return writeHead(dest, at, major, Number(argument));
  }
  if (at + 9 > dest.length) return NO_ROOM;
  dest[at] = (major << 5) | 27;
  FLOAT_VIEW.setBigUint64(0, argument);
  for (let i = 0; i < 8; i++) dest[at + 1 + i] = FLOAT_VIEW.getUint8(i);
  return at + 9;
}

/** Bytewise order of a and b (a shorter prefix first). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** True for a text of ASCII only (then its UTF-16 order is its UTF-8 order). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * RFC 8949 order of two text keys: by the bytes of their encodings, which
 * for text is shorter UTF-8 first, then byte by byte.
 */
function compareTextKeys(a: string, b: string): number {
  if (isAscii(a) && isAscii(b)) {
    return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
  }
  const x = UTF8_ENCODER.encode(a);
  const y = UTF8_ENCODER.encode(b);
  return x.length !== y.length ? x.length - y.length : compareBytes(x, y);
}

/** Writes a plain object as a map of text keys in canonical order. */
function writeRecord(
  dest: Uint8Array,
  at: number,
  record: Record<string, unknown>,
  depth: number,
): number {
  const keys = Object.keys(record);
  keys.sort(compareTextKeys);
  let end = writeHead(dest, at, 5, keys.length);
  for (let i = 0; i < keys.length && end >= 0; i++) {
    end = writeText(dest, end, keys[i]);
    if (end >= 0) end = writeValue(dest, end, record[keys[i]], depth + 1);
  }
  return end;
}

/** Writes a Map (keys of any kind) with its entries in the bytewise order of their keys. */
function writeMap(dest: Uint8Array, at: number, map: Map<unknown, unknown>, depth: number): number {
  const entries: [Uint8Array, unknown][] = [];
  for (const [key, item] of map) {
    const bytes = encodeAlone(key, depth + 1);
    if (typeof bytes === "number") return bytes;
    entries.push([bytes, item]);
  }
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  let end = writeHead(dest, at, 5, entries.length);
  for (let i = 0; i < entries.length && end >= 0; i++) {
    if (i > 0 && compareBytes(entries[i - 1][0], entries[i][0]) === 0) return NOT_MINE; // a repeated key
    const key = entries[i][0];
    if (end + key.length > dest.length) return NO_ROOM;
    dest.set(key, end);
    end = writeValue(dest, end + key.length, entries[i][1], depth + 1);
  }
  return end;
}

/** The encoding of `value` on its own (a map key); NOT_MINE for what the codec refuses. */
function encodeAlone(value: unknown, depth: number): Uint8Array | number {
  let size = 256;
  while (true) {
    const buffer = new Uint8Array(size);
    const end = writeValue(buffer, 0, value, depth);
    if (end >= 0) return buffer.subarray(0, end);
    if (end !== NO_ROOM || size > 64 * 1024 * 1024) return NOT_MINE;
    size *= 16;
  }
}

/**
 * Writes `value` at `at` in Grid-CBOR's canonical form. Returns the end, or
 * NO_ROOM, or NOT_MINE for what the codec refuses (undefined, a bigint past
 * 64 bits, a Set, a value nested past the limit, a tag 42 or grid tag that
 * is not the codec's own, ...), which cborg then reports.
 */
export function writeValue(dest: Uint8Array, at: number, value: unknown, depth: number): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) return writeFloat(dest, at, value);
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
  if (typeof value === "bigint") return writeBigInt(dest, at, value);
  if (typeof value !== "object") return NOT_MINE;
  const cid = asHash(value);
  if (cid) {
    if (at + 2 > dest.length) return NO_ROOM;
    dest[at] = 0xd8; // a tag whose number takes one byte
    dest[at + 1] = CID_TAG;
    return writeValue(dest, at + 2, cidPayload(cid), depth);
  }
  if (depth > MAX_DEPTH) return NOT_MINE;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    return writeRecord(dest, at, value as Record<string, unknown>, depth);
  }
  if (value instanceof CborFloat) return writeFloat(dest, at, value.value);
  if (value instanceof Tagged) {
    if (value.tag === CID_TAG || value.tag === GRID_TAG) return NOT_MINE; // only the codec's own
    const end = writeHead(dest, at, 6, value.tag);
    return end < 0 ? end : writeValue(dest, end, value.value, depth + 1);
  }
  if (value instanceof Map) return writeMap(dest, at, value, depth);
  return NOT_MINE;
}

/** What {@link readValue} returns when it leaves the input to cborg. */
export const GIVE_UP: unique symbol = Symbol("give up");

/** A marker for the decoded envelope, so a nested grid tag can be told apart. */
export class Envelope {
  /** Wraps the envelope's content. */
  constructor(readonly value: unknown) {}
}

/** Refuses bytes that are not UTF-8, and keeps a leading BOM (U+FEFF is text like any other). */
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

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

/** True when the key at `bytes[b, bEnd)` sorts strictly after the one at `bytes[a, aEnd)`. */
export function inOrder(
  bytes: Uint8Array,
  a: number,
  aEnd: number,
  b: number,
  bEnd: number,
): boolean {
  const n = Math.min(aEnd - a, bEnd - b);
  for (let i = 0; i < n; i++) {
    if (bytes[a + i] !== bytes[b + i]) return bytes[a + i] < bytes[b + i];
  }
  return aEnd - a < bEnd - b;
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
      let lastStart = 0;
      let lastEnd = 0;
      for (let i = 0; i < n; i++) {
        if (r.at >= bytes.length || bytes[r.at] >> 5 !== 3) return GIVE_UP; // keys are text
        const keyStart = r.at;
        const key = readValue(r, depth + 1, false);
        if (typeof key !== "string" || key === "__proto__" || Object.hasOwn(out, key)) {
          return GIVE_UP;
        }
        // Keys in strictly increasing bytewise order (RFC 8949 §4.2.1), else cborg's path says so.
        if (i > 0 && !inOrder(bytes, lastStart, lastEnd, keyStart, r.at)) return GIVE_UP;
        lastStart = keyStart;
        lastEnd = r.at;
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
