/**
 * The few CBOR forms a command line needs to reach a running agent, written
 * and read without npm:cborg: the request it sends (`grid([42(promise),
 * 42(module), "arg", ...])`), the reply it reads (CIDs, a number, bytes,
 * text), and the symbol table it looks the command up in (maps of text).
 *
 * Purpose-built, not a codec: it knows unsigned integers below 2^32 (and
 * writes any safe one), bytes, text, arrays, maps with text keys, CIDs,
 * false, true and null. The writer writes them exactly as `kernel/codec.ts`
 * does (shortest heads, map keys sorted by length then bytes); the reader
 * returns `undefined` for anything else (a float, a negative number, an
 * indefinite length, a longer head than needed, a repeated key, bad UTF-8,
 * too deep a nesting, bytes left over), so the caller hands those bytes to
 * the real codec, which reads them or says exactly what is wrong.
 * `cbor_subset_test.ts` checks the writer against cborg byte for byte, and
 * that the reader never reads a value other than cborg's, damaged input
 * included. What it reads is canonical Grid-CBOR only (shortest heads, keys
 * in bytewise order, CIDs in the bytes they write back), as the codec.
 *
 * Why this exists beside `kernel/_cbor_fast.ts`, the codec's own writer and
 * reader: that one is the codec (every value class, written into a caller's
 * buffer, CIDs as multiformats' CID with an interning table, tags as cborg's
 * `Tagged`), so it imports npm:multiformats and npm:cborg, and a command that
 * only talks to the agent must not load either (docs/bench-cli.md). This one
 * is the few forms that talk needs, on Web APIs alone. The two agree on
 * every form they share, which the tests of both check against cborg.
 *
 * @module
 */
import { CodecError } from "../errors.ts";
import { CidBytes } from "./web_hash.ts";
import { CID_TAG, GRID_TAG, MAX_DEPTH } from "./wire.ts";

/** A value of the subset. */
export type SubsetValue =
  | CidBytes
  | Uint8Array
  | string
  | number
  | boolean
  | null
  | SubsetValue[]
  | { [key: string]: SubsetValue };

const encoder = new TextEncoder();
const FATAL_UTF8 = new TextDecoder("utf-8", { fatal: true });

class Writer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#size += bytes.length;
  }
  head(major: number, n: number): void {
    const m = major << 5;
    if (n < 24) this.push(Uint8Array.of(m | n));
    else if (n < 0x100) this.push(Uint8Array.of(m | 24, n));
    else if (n < 0x10000) this.push(Uint8Array.of(m | 25, n >> 8, n & 0xff));
    else if (n < 0x1_0000_0000) {
      this.push(Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
    } else {
      const b = new Uint8Array(9);
      b[0] = m | 27;
      new DataView(b.buffer).setBigUint64(1, BigInt(n));
      this.push(b);
    }
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** UTF-8 bytes of `text`, refusing a lone surrogate as the codec does. */
function utf8(text: string): Uint8Array {
  if (!text.isWellFormed()) {
    throw new CodecError("Cannot encode a string with a lone surrogate (not valid UTF-8)");
  }
  return encoder.encode(text);
}

/** Map keys in the codec's order: shorter UTF-8 first, then byte by byte. */
function compareKeys(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function write(w: Writer, value: SubsetValue): void {
  if (typeof value === "string") {
    const b = utf8(value);
    w.head(3, b.length);
    w.push(b);
  } else if (value instanceof Uint8Array) {
    w.head(2, value.length);
    w.push(value);
  } else if (value instanceof CidBytes) {
    w.head(6, CID_TAG);
    w.head(2, value.bytes.length + 1);
    w.push(Uint8Array.of(0));
    w.push(value.bytes);
  } else if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    w.head(0, value);
  } else if (typeof value === "boolean" || value === null) {
    w.push(Uint8Array.of(value === null ? 0xf6 : value ? 0xf5 : 0xf4));
  } else if (Array.isArray(value)) {
    w.head(4, value.length);
    for (const item of value) write(w, item);
  } else if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => [utf8(k), v] as const);
    entries.sort((a, b) => compareKeys(a[0], b[0]));
    w.head(5, entries.length);
    for (const [k, v] of entries) {
      w.head(3, k.length);
      w.push(k);
      write(w, v);
    }
  } else {
    throw new CodecError(`Cannot write ${String(value).slice(0, 40)} in the CBOR subset`);
  }
}

/** Encodes `value` as `kernel/codec.ts`'s encodeValue would (subset forms only). */
export function encodeSubset(value: SubsetValue): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.bytes();
}

/** Encodes parms as a grid envelope, as `kernel/codec.ts`'s encodeMessage would. */
export function encodeEnvelope(parms: SubsetValue[]): Uint8Array {
  const w = new Writer();
  w.head(6, GRID_TAG);
  write(w, parms);
  return w.bytes();
}

/** Thrown inside the reader for input outside the subset; never leaves this file. */
class Outside {}
const OUTSIDE = new Outside();

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** The argument of a head: `info` itself, or the shortest-form number after it. */
  argument(info: number): number {
    const b = this.bytes;
    let n: number;
    let min: number;
    if (info < 24) return info;
    if (info === 24) {
      n = b[this.at];
      this.at += 1;
      min = 24;
    } else if (info === 25) {
      n = (b[this.at] << 8) | b[this.at + 1];
      this.at += 2;
      min = 0x100;
    } else if (info === 26) {
      n = ((b[this.at] << 24) >>> 0) + (b[this.at + 1] << 16) + (b[this.at + 2] << 8) +
        b[this.at + 3];
      this.at += 4;
      min = 0x10000;
    } else {
      throw OUTSIDE; // 64-bit arguments, indefinite lengths and reserved values
    }
    if (this.at > b.length || n < min) throw OUTSIDE;
    return n;
  }

  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw OUTSIDE;
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  text(n: number): string {
    try {
      return FATAL_UTF8.decode(this.take(n));
    } catch (err) {
      if (err === OUTSIDE) throw err;
      throw OUTSIDE; // not valid UTF-8
    }
  }

  item(depth: number): SubsetValue {
    if (this.at >= this.bytes.length) throw OUTSIDE;
    const initial = this.bytes[this.at++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) {
      if (initial === 0xf4) return false;
      if (initial === 0xf5) return true;
      if (initial === 0xf6) return null;
      throw OUTSIDE; // floats, undefined, other simple values
    }
    const n = this.argument(info);
    switch (major) {
      case 0:
        return n;
      case 2:
        return this.take(n);
      case 3:
        return this.text(n);
      case 4: {
        if (depth >= MAX_DEPTH) throw OUTSIDE;
        const out: SubsetValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        if (depth >= MAX_DEPTH) throw OUTSIDE;
        const out: { [key: string]: SubsetValue } = {};
        let last: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = this.at;
          const initialKey = this.bytes[this.at++];
          if (initialKey >> 5 !== 3) throw OUTSIDE;
          const key = this.text(this.argument(initialKey & 0x1f));
          if (Object.hasOwn(out, key) || key === "__proto__") throw OUTSIDE;
          // Canonical order (RFC 8949 §4.2.1): each key's bytes after the last one's.
          const keyBytes = this.bytes.subarray(keyStart, this.at);
          if (last && compareKeys(last, keyBytes) >= 0) throw OUTSIDE;
          last = keyBytes;
          out[key] = this.item(depth + 1);
        }
        return out;
      }
      case 6: {
        if (n !== CID_TAG || depth >= MAX_DEPTH) throw OUTSIDE; // the envelope only at the top
        const payload = this.item(depth + 1);
        if (!(payload instanceof Uint8Array) || payload[0] !== 0 || !isCidV1(payload, 1)) {
          throw OUTSIDE;
        }
        return new CidBytes(payload.subarray(1));
      }
      default:
        throw OUTSIDE; // negative integers
    }
  }
}

/** True when `bytes` from `at` are exactly one CIDv1: version, codec, multihash code, length, digest. */
function isCidV1(bytes: Uint8Array, at: number): boolean {
  if (bytes[at] !== 0x01) return false;
  let i = at + 1;
  for (let field = 0; field < 3; field++) {
    let value = 0;
    let shift = 0;
    while (true) {
      if (i >= bytes.length || shift > 28) return false;
      const b = bytes[i++];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (b === 0 && shift > 0) return false; // a varint in more bytes than needed
        break;
      }
      shift += 7;
    }
    if (field === 2) return i + value === bytes.length;
  }
  return false;
}

function read(bytes: Uint8Array, envelope: boolean): SubsetValue | undefined {
  const r = new Reader(bytes);
  try {
    if (envelope) {
      if (bytes[0] !== 0xda) return undefined;
      r.at = 1;
      if (r.argument(26) !== GRID_TAG) return undefined;
    }
    const value = r.item(envelope ? 1 : 0);
    return r.at === bytes.length ? value : undefined;
  } catch (err) {
    if (err === OUTSIDE) return undefined;
    throw err;
  }
}

/**
 * Reads a grid envelope (`grid([42(cid), ...])`) written in the subset; undefined
 * when the bytes are anything else, well-formed or not (ask the codec then).
 */
export function decodeEnvelope(bytes: Uint8Array): SubsetValue[] | undefined {
  const value = read(bytes, true);
  if (!Array.isArray(value) || !(value[0] instanceof CidBytes)) return undefined;
  return value;
}

/** Reads plain data written in the subset; undefined for anything else (ask the codec then). */
export function decodeSubset(bytes: Uint8Array): SubsetValue | undefined {
  return read(bytes, false);
}
