/**
 * The message codec: PromiseGrid's wire envelope over strict CBOR (npm:cborg).
 *
 * A message is its parms: `grid([42(promise), 42(module), args...])`, CBOR
 * tag 1735551332 ("grid") around an array whose slot 0 is a CID (tag 42, a
 * byte string with a leading 0x00, as in DAG-CBOR). Decoding checks the tag,
 * the array and slot 0 before anything else, and is bounded in size and depth.
 *
 * @module
 */
import { decode, encode, Tagged, Token, Tokenizer, Type } from "cborg";
import type { TagDecodeControl } from "cborg";
import { asHash, type CID } from "./hash.ts";
import { CodecError } from "./errors.ts";
import {
  cidPayload,
  Envelope,
  GIVE_UP,
  internCid,
  NO_ROOM,
  NOT_MINE,
  readAll,
  writeValue,
} from "./_cbor_fast.ts";
import { CID_TAG, GRID_TAG, MAX_DEPTH, MAX_MESSAGE_BYTES } from "./base/wire.ts";

export { CID_TAG, GRID_TAG, MAX_DEPTH, MAX_MESSAGE_BYTES };

/** One parameter of a message. Plain CBOR data plus CIDs; no undefined, no floats NaN. */
export type Parm =
  | CID
  | Uint8Array
  | string
  | number
  | boolean
  | null
  | Parm[]
  | { [key: string]: Parm };

/** A message: slot 0 is the promise hash; in a request slot 1 is the module hash. */
export type Parms = [CID, ...Parm[]];

/** Limits applied while decoding. */
export interface DecodeLimits {
  /** Largest input in bytes. */
  maxBytes?: number;
  /** Deepest nesting of arrays, maps and tags. */
  maxDepth?: number;
}

function cidEncoder(obj: unknown): Token[] | null {
  const cid = asHash(obj);
  if (!cid) return null;
  return [new Token(Type.tag, CID_TAG), new Token(Type.bytes, cidPayload(cid))];
}

function undefinedEncoder(): never {
  throw new CodecError("Cannot encode undefined in a message");
}

function numberEncoder(value: unknown): null {
  if (!Number.isFinite(value)) throw new CodecError(`Cannot encode ${value} in a message`);
  return null; // finite: cborg's own encoding
}

function stringEncoder(value: unknown): null {
  if (!(value as string).isWellFormed()) {
    throw new CodecError("Cannot encode a string with a lone surrogate (not valid UTF-8)");
  }
  return null; // well-formed: cborg's own encoding
}

function refuse(what: string): () => never {
  return () => {
    throw new CodecError(`Cannot encode a ${what} in a message`);
  };
}

// Encode only what the strict decoder reads back: no undefined, NaN, Infinity,
// bigint or Map (a Map would come back as a plain object, or not at all).
const ENCODE_OPTIONS = {
  typeEncoders: {
    Object: cidEncoder,
    undefined: undefinedEncoder,
    number: numberEncoder,
    string: stringEncoder,
    bigint: refuse("bigint"),
    Map: refuse("Map"),
    Set: refuse("Set"),
  },
};

function strictEncode(value: unknown): Uint8Array {
  try {
    return encode(value, ENCODE_OPTIONS);
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`Cannot encode: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes a tag-42 payload into a CID, the same instance for the same bytes
 * (see internCid in _cbor_fast.ts).
 */
function decodeCidTag(decodeInner: TagDecodeControl): CID {
  const bytes = decodeInner();
  if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes[0] !== 0) {
    throw new CodecError("Tag 42 must hold a byte string with a leading 0x00");
  }
  return internCid(bytes, 0, bytes.length);
}

const FATAL_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes taken by the head of a CBOR item whose first byte is `initial`. */
function headLength(initial: number): number {
  const info = initial & 0x1f;
  return info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : info === 26 ? 5 : 9;
}

/**
 * Wraps cborg's tokenizer to bound nesting depth (cborg decodes recursively,
 * so a deep input would otherwise exhaust the stack) and to refuse text
 * strings that are not valid UTF-8 (cborg would quietly substitute U+FFFD,
 * so two different messages would read the same).
 */
class StrictTokenizer {
  #inner: Tokenizer;
  #bytes: Uint8Array;
  #open: number[] = [];
  #maxDepth: number;
  constructor(bytes: Uint8Array, inner: Tokenizer, maxDepth: number) {
    this.#bytes = bytes;
    this.#inner = inner;
    this.#maxDepth = maxDepth;
  }
  done(): boolean {
    return this.#inner.done();
  }
  pos(): number {
    return this.#inner.pos();
  }
  next(): Token {
    const start = this.#inner.pos();
    const token = this.#inner.next();
    const open = this.#open;
    if (open.length > 0) open[open.length - 1]--;
    let children = 0;
    if (token.type === Type.array) children = token.value as number;
    else if (token.type === Type.map) children = 2 * (token.value as number);
    else if (token.type === Type.tag) {
      children = 1;
      if (token.value === GRID_TAG && start !== 0) {
        throw new CodecError("A grid envelope may not be nested");
      }
    } else if (token.type === Type.string && (token.value as string).includes("\uFFFD")) {
      const end = this.#inner.pos();
      try {
        FATAL_UTF8.decode(this.#bytes.subarray(start + headLength(this.#bytes[start]), end));
      } catch (err) {
        throw new CodecError("A text string is not valid UTF-8", { cause: err });
      }
    }
    if (children > 0) {
      open.push(children);
      if (open.length > this.#maxDepth) {
        throw new CodecError(`Message nests deeper than ${this.#maxDepth} levels`);
      }
    }
    while (open.length > 0 && open[open.length - 1] === 0) open.pop();
    return token;
  }
}

/** The envelope tag's decoder: marks the value so decodeMessage can tell it was there. */
function decodeEnvelope(inner: TagDecodeControl): Envelope {
  return new Envelope(inner());
}

const STRICT = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: false,
} as const;

// Built once: decoding keeps no per-call state in its options (the tokenizer
// refuses a grid tag anywhere but at the very start, see StrictTokenizer).
const MESSAGE_OPTIONS = {
  ...STRICT,
  tags: { [CID_TAG]: decodeCidTag, [GRID_TAG]: decodeEnvelope } as Record<
    number,
    (d: TagDecodeControl) => unknown
  >,
};
const VALUE_OPTIONS = {
  ...STRICT,
  tags: { [CID_TAG]: decodeCidTag } as Record<number, (d: TagDecodeControl) => unknown>,
};

function strictDecode(bytes: Uint8Array, limits: DecodeLimits, allowEnvelope: boolean): unknown {
  const maxBytes = limits.maxBytes ?? MAX_MESSAGE_BYTES;
  if (!(bytes instanceof Uint8Array)) throw new CodecError("Message must be bytes");
  if (bytes.length > maxBytes) {
    throw new CodecError(`Message of ${bytes.length} bytes is over the ${maxBytes}-byte limit`);
  }
  if (bytes.length === 0) throw new CodecError("Message is empty");
  const maxDepth = limits.maxDepth ?? MAX_DEPTH;
  // The fast path reads what messages are mostly made of; anything else, and
  // anything it would refuse, goes through cborg, which says what is wrong.
  const fast = fastPaths ? readAll(bytes, maxDepth, allowEnvelope) : GIVE_UP;
  if (fast !== GIVE_UP) return fast;
  const options = allowEnvelope ? MESSAGE_OPTIONS : VALUE_OPTIONS;
  try {
    return decode(bytes, {
      ...options,
      tokenizer: new StrictTokenizer(bytes, new Tokenizer(bytes, options), maxDepth),
    });
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`Malformed CBOR: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Encodes parms as a grid envelope. Throws {@link CodecError} for anything the
 * strict decoder would refuse (undefined, NaN, Infinity, bigint, Map) and for
 * a message over {@link MAX_MESSAGE_BYTES}, so we never send what no peer reads.
 */
export function encodeMessage(parms: Parms): Uint8Array {
  if (!Array.isArray(parms) || asHash(parms[0]) === null) {
    throw new CodecError("Slot 0 of a message must be a promise hash");
  }
  const bytes = encodeFast(parms, GRID_HEAD) ?? strictEncode(new Tagged(GRID_TAG, parms));
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new CodecError(
      `Message of ${bytes.length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`,
    );
  }
  return bytes;
}

/**
 * Decodes a grid envelope into parms. Throws {@link CodecError} for anything
 * that is not exactly `grid([42(cid), ...])` within the limits.
 */
export function decodeMessage(bytes: Uint8Array, limits: DecodeLimits = {}): Parms {
  const value = strictDecode(bytes, limits, true);
  if (!(value instanceof Envelope)) {
    throw new CodecError("Message is not a grid envelope (CBOR tag 1735551332)");
  }
  const parms = value.value;
  if (!Array.isArray(parms)) throw new CodecError("A grid envelope must hold an array");
  if (parms.length === 0 || asHash(parms[0]) === null) {
    throw new CodecError("Slot 0 of a grid envelope must be a CID (tag 42)");
  }
  return parms as Parms;
}

/** False while {@link withoutFastPaths} runs. */
let fastPaths = true;

/**
 * Runs `run` with the codec's fast paths off, so every value goes through
 * cborg: for tests that check both give the same bytes, values and errors.
 */
export function withoutFastPaths<T>(run: () => T): T {
  fastPaths = false;
  try {
    return run();
  } finally {
    fastPaths = true;
  }
}

/** The head of tag {@link GRID_TAG}: major type 6 with a 4-byte number, "grid". */
const GRID_HEAD = Uint8Array.of(0xda, 0x67, 0x72, 0x69, 0x64);
const NO_HEAD = new Uint8Array(0);
/** Where messages are written before they are copied out at their size. */
const scratch = new Uint8Array(64 * 1024);
/** Set while the scratch is in use (a getter that encodes would otherwise share it). */
let scratchBusy = false;

/**
 * `head` then `value`, written on the fast path; undefined for a value it
 * leaves to cborg. Small values are written into the scratch and copied
 * out; larger ones into a buffer sized by their bound.
 */
function encodeFast(value: unknown, head: Uint8Array): Uint8Array | undefined {
  if (scratchBusy || !fastPaths) return undefined;
  scratchBusy = true;
  try {
    scratch.set(head, 0);
    const end = writeValue(scratch, head.length, value, 0);
    if (end >= 0) return scratch.slice(0, end);
    if (end === NOT_MINE) return undefined;
  } finally {
    scratchBusy = false;
  }
  const bound = head.length + sizeBound(value, 0);
  if (!Number.isFinite(bound)) return undefined;
  const out = new Uint8Array(bound);
  out.set(head, 0);
  const end = writeValue(out, head.length, value, 0);
  return end >= 0 ? out.subarray(0, end) : undefined;
}

/**
 * Writes the encoding of `value` (exactly {@link encodeValue}'s bytes) into
 * `dest` from `offset`, and returns where it ends, or -1 when `dest` is too
 * small (what was written past `offset` is then garbage). Throws
 * {@link CodecError} for what encodeValue refuses.
 */
export function encodeValueInto(value: Parm, dest: Uint8Array, offset: number): number {
  const end = fastPaths ? writeValue(dest, offset, value, 0) : NOT_MINE;
  if (end !== NOT_MINE) return end;
  const bytes = strictEncode(value);
  if (offset + bytes.length > dest.length) return NO_ROOM;
  dest.set(bytes, offset);
  return offset + bytes.length;
}

/**
 * An upper bound of `encodeValue(value).length`, for sizing a buffer
 * before {@link encodeValueInto}; Infinity for a value that holds itself
 * (or nests over a thousand levels deep).
 */
export function encodedSizeBound(value: Parm): number {
  return sizeBound(value, 0);
}

function sizeBound(value: unknown, depth: number): number {
  if (depth > 1000) return Infinity; // a value that holds itself
  if (value instanceof Uint8Array) return 9 + value.length;
  if (typeof value === "string") return 9 + 3 * value.length;
  if (Array.isArray(value)) {
    let n = 9;
    for (const item of value) n += sizeBound(item, depth + 1);
    return n;
  }
  const cid = asHash(value);
  if (cid) return 11 + cid.bytes.length;
  if (value !== null && typeof value === "object") {
    let n = 9;
    for (const [key, item] of Object.entries(value)) {
      n += 9 + 3 * key.length + sizeBound(item, depth + 1);
    }
    return n;
  }
  return 9; // numbers (a float64 at most), true, false, null
}

/** Encodes plain data (a record, a symbol table) as deterministic CBOR, CIDs as tag 42. */
export function encodeValue(value: Parm): Uint8Array {
  return encodeFast(value, NO_HEAD) ?? strictEncode(value);
}

/** Strictly decodes plain data written by {@link encodeValue}. */
export function decodeValue(bytes: Uint8Array, limits: DecodeLimits = {}): Parm {
  return strictDecode(bytes, limits, false) as Parm;
}
