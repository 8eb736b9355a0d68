/**
 * The message codec: PromiseGrid's wire envelope over Grid-CBOR.
 *
 * A message is its parms: `grid([42(promise), 42(module), args...])`, CBOR
 * tag 1735551332 ("grid") around an array whose slot 0 is a CID (tag 42, a
 * byte string with a leading 0x00, as in DAG-CBOR). The tag and slot 0 are
 * upstream PromiseGrid's; the module slot and the arguments are grid's own
 * protocol (docs/wire-format.md). Decoding checks the tag, the array and slot
 * 0, and is bounded in size and depth.
 *
 * Bytes are Grid-CBOR (promisegrid/promisegrid docs/grid-cbor-multicodec-spec.md
 * at 7b51598): RFC 8949 §4.2.1 core deterministic encoding. The encoder
 * writes only that form, and the decoder refuses anything else (a longer
 * head or float than needed, an indefinite length, map keys out of bytewise
 * order or repeated, NaN other than f97e00) with a CodecError, so a value
 * decoded and encoded again gives back the very bytes it came from. Values
 * keep what CBOR can tell apart: `1.0` (a {@link CborFloat}) is not `1`,
 * -0 is not 0, integers past 2^53 are bigints, other tags are cborg's
 * `Tagged`, and a map with any key that is not text is a `Map`.
 *
 * @module
 */
import { decode, encode, rfc8949EncodeOptions, Tagged, Token, Tokenizer, Type } from "cborg";
import type { TagDecodeControl } from "cborg";
import { asHash, type CID } from "./hash.ts";
import { CodecError } from "./errors.ts";
import {
  CborFloat,
  cidPayload,
  Envelope,
  floatWidth,
  GIVE_UP,
  inOrder,
  internCid,
  NO_ROOM,
  NOT_MINE,
  readAll,
  writeValue,
} from "./_cbor_fast.ts";
import { CID_TAG, GRID_TAG, MAX_DEPTH, MAX_MESSAGE_BYTES } from "./base/wire.ts";

export { CborFloat, CID_TAG, GRID_TAG, MAX_DEPTH, MAX_MESSAGE_BYTES, Tagged };

/**
 * One parameter of a message: any Grid-CBOR value. What grid's own
 * protocols send is plain data (text-keyed records, arrays, strings, bytes,
 * safe integers, booleans, null) plus CIDs; the rest is what a peer may send
 * and grid keeps exactly: floats (a {@link CborFloat} for a whole one),
 * bigints past 2^53, tags other than 42 (`Tagged`) and maps with other keys.
 */
export type Parm =
  | CID
  | Uint8Array
  | string
  | number
  | bigint
  | boolean
  | null
  | CborFloat
  | Tagged
  | Map<Parm, Parm>
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

/** cborg types class instances it does not know as "Object": CIDs and CborFloats land here. */
function objectEncoder(obj: unknown): Token[] | null {
  if (obj instanceof CborFloat) return [new Token(Type.float, obj.value)];
  const cid = asHash(obj);
  if (!cid) return null;
  return [new Token(Type.tag, CID_TAG), new Token(Type.bytes, cidPayload(cid))];
}

function undefinedEncoder(): never {
  throw new CodecError("Cannot encode undefined in a message");
}

/** -0 is a float (f98000), not the integer 0; any other number is cborg's to write. */
function numberEncoder(value: unknown): Token[] | null {
  return Object.is(value, -0) ? [new Token(Type.float, -0)] : null;
}

function stringEncoder(value: unknown): null {
  if (!(value as string).isWellFormed()) {
    throw new CodecError("Cannot encode a string with a lone surrogate (not valid UTF-8)");
  }
  return null; // well-formed: cborg's own encoding
}

function bigintEncoder(value: unknown): null {
  const n = value as bigint;
  if (n >= 1n << 64n || n < -(1n << 64n)) {
    throw new CodecError("Cannot encode an integer beyond 64 bits in a message");
  }
  return null;
}

function taggedEncoder(value: unknown): null {
  const tag = (value as Tagged).tag;
  if (tag === CID_TAG) throw new CodecError("Cannot encode tag 42 other than as a CID");
  if (tag === GRID_TAG) throw new CodecError("Cannot encode a grid envelope inside a message");
  return null;
}

function refuse(what: string): () => never {
  return () => {
    throw new CodecError(`Cannot encode a ${what} in a message`);
  };
}

// cborg's path, taken for what the codec's own writer refuses (so cborg says
// what is wrong) and by withoutFastPaths: RFC 8949 key order, -0 as a float,
// whole floats as floats, no undefined, no Set, no lone surrogate.
const ENCODE_OPTIONS = {
  ...rfc8949EncodeOptions,
  typeEncoders: {
    Object: objectEncoder,
    undefined: undefinedEncoder,
    number: numberEncoder,
    string: stringEncoder,
    bigint: bigintEncoder,
    Tagged: taggedEncoder,
    Set: refuse("Set"),
  },
};

/**
 * cborg's encoding of what the codec's writer left to it. Bytes it writes
 * are read back before they are returned: cborg can write what no strict
 * decoder reads (a Map whose keys repeat once encoded, nesting past the
 * limit, a subnormal half as a single), and the codec never sends that.
 */
function strictEncode(value: unknown): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encode(value, ENCODE_OPTIONS);
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`Cannot encode: ${(err as Error).message}`, { cause: err });
  }
  try {
    strictDecode(bytes, {}, false);
  } catch (err) {
    throw new CodecError(`Cannot encode: ${(err as Error).message}`, { cause: err });
  }
  return bytes;
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

/** Refuses what is not UTF-8 and keeps a leading U+FEFF (cborg's decoder drops it). */
const FATAL_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes taken by the head of a CBOR item whose first byte is `initial`. */
function headLength(initial: number): number {
  const info = initial & 0x1f;
  return info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : info === 26 ? 5 : 9;
}

/** One open array, map or tag in {@link StrictTokenizer}: items left, and a map's last key. */
interface Open {
  left: number;
  map: boolean;
  seen: number;
  keyStart: number;
  lastStart: number;
  lastEnd: number;
}

/**
 * Wraps cborg's tokenizer for what cborg's options do not check: nesting
 * depth (cborg decodes recursively, so a deep input would otherwise exhaust
 * the stack), text that is not valid UTF-8 (cborg would quietly substitute
 * U+FFFD, so two different messages would read the same), and the canonical
 * rules of RFC 8949 §4.2.1 that cborg's `strict` leaves out: map keys in
 * strictly increasing bytewise order and floats in their shortest exact form
 * (NaN only as f97e00). A whole float becomes a {@link CborFloat}.
 */
class StrictTokenizer {
  #inner: Tokenizer;
  #bytes: Uint8Array;
  #open: Open[] = [];
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
    let token = this.#inner.next();
    const open = this.#open;
    const parent = open.length > 0 ? open[open.length - 1] : undefined;
    if (parent) {
      if (parent.map) this.#checkKeyOrder(parent, start);
      parent.seen++;
      parent.left--;
    }
    let children = 0;
    let map = false;
    if (token.type === Type.array) children = token.value as number;
    else if (token.type === Type.map) {
      children = 2 * (token.value as number);
      map = true;
    } else if (token.type === Type.tag) {
      children = 1;
      if (token.value === GRID_TAG && start !== 0) {
        throw new CodecError("A grid envelope may not be nested");
      }
    } else if (token.type === Type.float) {
      token = this.#checkFloat(token, start);
    } else if (token.type === Type.string) {
      token = this.#checkText(token, start);
    }
    if (children > 0) {
      open.push({ left: children, map, seen: 0, keyStart: 0, lastStart: 0, lastEnd: 0 });
      if (open.length > this.#maxDepth) {
        throw new CodecError(`Message nests deeper than ${this.#maxDepth} levels`);
      }
    }
    while (open.length > 0 && open[open.length - 1].left === 0) open.pop();
    return token;
  }
  /**
   * Text that cborg decoded loosely: bytes that are not UTF-8 (cborg reads
   * U+FFFD) are refused, and a leading U+FEFF (which cborg drops) is kept.
   */
  #checkText(token: Token, start: number): Token {
    const bytes = this.#bytes;
    const from = start + headLength(bytes[start]);
    const bom = bytes[from] === 0xef && bytes[from + 1] === 0xbb && bytes[from + 2] === 0xbf;
    if (!bom && !(token.value as string).includes("\uFFFD")) return token;
    try {
      const text = FATAL_UTF8.decode(bytes.subarray(from, this.#inner.pos()));
      return bom ? new Token(Type.string, text, token.encodedLength) : token;
    } catch (err) {
      throw new CodecError("A text string is not valid UTF-8", { cause: err });
    }
  }
  /** A key starts at an even item of a map; when its value starts, the key is whole. */
  #checkKeyOrder(map: Open, start: number): void {
    if (map.seen % 2 === 0) {
      map.keyStart = start;
      return;
    }
    if (map.seen > 1 && !inOrder(this.#bytes, map.lastStart, map.lastEnd, map.keyStart, start)) {
      throw new CodecError(
        "Map keys are repeated or not in canonical order (RFC 8949 §4.2.1: bytewise order of their encodings)",
      );
    }
    map.lastStart = map.keyStart;
    map.lastEnd = start;
  }
  #checkFloat(token: Token, start: number): Token {
    const value = token.value as number;
    const width = token.encodedLength ?? 0;
    const bytes = this.#bytes;
    if (value !== value && (width !== 3 || bytes[start + 1] !== 0x7e || bytes[start + 2] !== 0)) {
      throw new CodecError("A NaN is not in its canonical form f97e00");
    }
    const shortest = floatWidth(value);
    if (shortest !== width) {
      // cborg, grid's encoder before Grid-CBOR, wrote most subnormal halves as singles.
      const old = shortest === 3 && width === 5 && Math.abs(value) < 2 ** -14
        ? "; grid nodes before Grid-CBOR (before commit e9d2b78) wrote tiny floats so"
        : "";
      throw new CodecError(
        `A float is encoded in ${width} bytes where ${shortest} hold it exactly (not canonical${old})`,
      );
    }
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
      return new Token(Type.float, new CborFloat(value), width);
    }
    return token;
  }
}

/** The envelope tag's decoder: marks the value so decodeMessage can tell it was there. */
function decodeEnvelope(inner: TagDecodeControl): Envelope {
  return new Envelope(inner());
}

type TagDecoders = Record<number, (d: TagDecodeControl) => unknown>;

/**
 * Tag decoders for any tag number: 42 reads a CID, the grid tag (messages
 * only) marks the envelope, and any other tag is kept as cborg's `Tagged`
 * (upstream: decoders preserve unknown tags). A Proxy, since cborg looks
 * tags up by number in a plain record.
 */
function anyTag(known: TagDecoders): TagDecoders {
  return new Proxy(known, {
    get(target, key) {
      if (typeof key !== "string") return undefined;
      const known = target[key as unknown as number];
      if (known) return known;
      const tag = Number(key);
      if (!Number.isSafeInteger(tag) || tag < 0) return undefined; // cborg: tag not supported
      if (tag === GRID_TAG) return undefined; // a grid tag where no envelope may be
      return (d: TagDecodeControl) => new Tagged(tag, d());
    },
  });
}

const STRICT = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: true,
  allowNaN: true,
  allowBigInt: true,
  rejectDuplicateMapKeys: true,
  useMaps: true,
} as const;

// Built once: decoding keeps no per-call state in its options (the tokenizer
// refuses a grid tag anywhere but at the very start, see StrictTokenizer).
const MESSAGE_OPTIONS = {
  ...STRICT,
  tags: anyTag({ [CID_TAG]: decodeCidTag, [GRID_TAG]: decodeEnvelope }),
};
const VALUE_OPTIONS = { ...STRICT, tags: anyTag({ [CID_TAG]: decodeCidTag }) };

/**
 * cborg's maps (read with `useMaps`, so any key type reads) as grid keeps
 * them: a plain object when every key is text, else the Map.
 */
function fromMaps(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fromMaps(value[i]);
    return value;
  }
  if (value instanceof Envelope) return new Envelope(fromMaps(value.value));
  if (value instanceof Tagged) {
    value.value = fromMaps(value.value);
    return value;
  }
  if (!(value instanceof Map)) return value;
  let text = true;
  for (const key of value.keys()) if (typeof key !== "string") text = false;
  if (!text) {
    const out = new Map();
    for (const [key, item] of value) out.set(fromMaps(key), fromMaps(item));
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of value) {
    Object.defineProperty(out, key, {
      value: fromMaps(item),
      configurable: true,
      enumerable: true,
      writable: true,
    });
  }
  return out;
}

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
    return fromMaps(decode(bytes, {
      ...options,
      tokenizer: new StrictTokenizer(bytes, new Tokenizer(bytes, options), maxDepth),
    }));
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`Malformed CBOR: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Encodes parms as a grid envelope in canonical Grid-CBOR. Throws
 * {@link CodecError} for what no decoder would read back (undefined, a Set, a
 * bigint past 64 bits, a lone surrogate, a tag 42 that is not a CID) and for
 * a message over {@link MAX_MESSAGE_BYTES}, so we never send what no peer reads.
 */
export function encodeMessage(parms: Parms): Uint8Array {
  if (!Array.isArray(parms) || asHash(parms[0]) === null) {
    throw new CodecError("Slot 0 of a message must be a promise hash");
  }
  const bytes = encodeFast(parms, GRID_HEAD) ?? withHead(GRID_HEAD, strictEncode(parms));
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new CodecError(
      `Message of ${bytes.length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`,
    );
  }
  if (SELF_CHECK) selfCheck(parms, bytes, true);
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

/**
 * Test aid: with GRID_CODEC_SELFCHECK=1 in the environment, every encode
 * also checks that its bytes decode and encode back to themselves, and that
 * grid's encoder before Grid-CBOR (cborg's defaults: length-first keys, which
 * for text keys is the same order) wrote the very same bytes, so older nodes
 * send nothing this decoder refuses. Run the unit tests with it to cover
 * every message and record kind they build.
 */
const SELF_CHECK = (() => {
  try {
    return Deno.env.get("GRID_CODEC_SELFCHECK") === "1";
  } catch {
    return false; // no env permission (a module's worker): off
  }
})();

/** What grid's encoder was before Grid-CBOR: cborg's defaults, refusing what its decoder refused. */
const PRE_GRID_CBOR_OPTIONS = {
  typeEncoders: {
    Object: (obj: unknown) => obj instanceof CborFloat ? refuse("CborFloat")() : objectEncoder(obj),
    number: (n: unknown) => Number.isFinite(n) ? null : refuse("NaN or Infinity")(),
    bigint: refuse("bigint"),
    Map: refuse("Map"),
    Tagged: refuse("tag"),
  },
};

function selfCheck(value: unknown, bytes: Uint8Array, message: boolean): void {
  const again = message
    ? withHead(GRID_HEAD, encodeRaw(decodeMessage(bytes).slice()))
    : encodeRaw(decodeValue(bytes));
  if (again.toHex() !== bytes.toHex()) {
    throw new Error(`Codec self-check: ${bytes.toHex().slice(0, 200)} re-encodes differently`);
  }
  let old: Uint8Array;
  try {
    old = withHead(message ? GRID_HEAD : NO_HEAD, encode(value, PRE_GRID_CBOR_OPTIONS));
  } catch {
    return; // a value the old encoder refused (NaN, a bigint, a Map): new to Grid-CBOR
  }
  if (old.toHex() === bytes.toHex() || containsNegativeZero(value)) return;
  try {
    (message ? decodeMessage : decodeValue)(old);
  } catch (err) {
    // The one known difference: cborg wrote most subnormal halves as singles.
    if (err instanceof CodecError && err.message.includes("grid nodes before Grid-CBOR")) return;
  }
  throw new Error(`Codec self-check: the pre-Grid-CBOR encoder wrote ${old.toHex().slice(0, 200)}`);
}

/** True when -0 is somewhere in `value` (the old encoder wrote it as the integer 0). */
function containsNegativeZero(value: unknown): boolean {
  if (Object.is(value, -0)) return true;
  if (Array.isArray(value)) return value.some(containsNegativeZero);
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.values(value).some(containsNegativeZero);
  }
  return false;
}

/** The value's bytes: the codec's writer, or cborg's path for what it refuses. */
function encodeRaw(value: unknown): Uint8Array {
  return encodeFast(value, NO_HEAD) ?? strictEncode(value);
}

/** `head` then `body` in one buffer. */
function withHead(head: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
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
  if (value instanceof Tagged) return 9 + sizeBound(value.value, depth + 1);
  if (value instanceof Map) {
    let n = 9;
    for (const [key, item] of value) n += sizeBound(key, depth + 1) + sizeBound(item, depth + 1);
    return n;
  }
  if (value instanceof CborFloat) return 9;
  if (value !== null && typeof value === "object") {
    let n = 9;
    for (const [key, item] of Object.entries(value)) {
      n += 9 + 3 * key.length + sizeBound(item, depth + 1);
    }
    return n;
  }
  return 9; // numbers (a float64 at most), bigints (64 bits at most), true, false, null
}

/** Encodes a value (a record, a symbol table) as canonical Grid-CBOR, CIDs as tag 42. */
export function encodeValue(value: Parm): Uint8Array {
  const bytes = encodeRaw(value);
  if (SELF_CHECK) selfCheck(value, bytes, false);
  return bytes;
}

/** Decodes one canonical Grid-CBOR value (a record, a symbol table); never an envelope. */
export function decodeValue(bytes: Uint8Array, limits: DecodeLimits = {}): Parm {
  return strictDecode(bytes, limits, false) as Parm;
}
