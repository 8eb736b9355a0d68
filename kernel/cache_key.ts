/**
 * Cache keys: a message's parms joined with `/`, one path component per parm,
 * each in a fixed, filesystem-safe text form. No key can name a path outside
 * its cache root: every byte outside `[a-z0-9_-]` is percent-encoded (with
 * uppercase hex), so `/`, `\`, `.`, NUL and any unicode never reach the
 * filesystem raw, and no two keys differ only in letter case (macOS volumes
 * are case-insensitive).
 *
 * Forms: a hash is its base32 CID text (`bafk...`); a string is `s:` +
 * percent-encoded UTF-8 (the `:` is encoded too, so it reads `s%3A...`);
 * other values are their deterministic CBOR bytes as `v` + hex. A value
 * whose form would be longer than {@link MAX_COMPONENT} becomes `h%3A` + the
 * hex sha2-256 of its CBOR bytes: still one bounded component, still unique.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { CID } from "./hash.ts";
import { encodeValue, type Parm } from "./codec.ts";
import { CacheKeyError } from "./errors.ts";

/** Longest path component allowed (most filesystems stop at 255 bytes). */
export const MAX_COMPONENT = 200;
/** Most components a key may have. */
export const MAX_COMPONENTS = 32;

/** Prefix of the hashed form of a value too long to spell out. */
export const HASHED_PREFIX = "h%3A";

/** Byte to its key text: itself for `[a-z0-9_-]`, else `%XX`. */
const ESCAPES: readonly string[] = Array.from({ length: 256 }, (_, byte) => {
  const ch = String.fromCharCode(byte);
  return /^[a-z0-9_-]$/.test(ch) ? ch : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
});

const encoder = new TextEncoder();

/** Percent-encodes every UTF-8 byte outside `[a-z0-9_-]` (uppercase letters included). */
export function escapeComponent(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return escapeUtf8(text); // rare: non-ASCII goes byte by byte
    out += ESCAPES[code];
  }
  return out;
}

function escapeUtf8(text: string): string {
  let out = "";
  for (const byte of encoder.encode(text)) out += ESCAPES[byte];
  return out;
}

/** The CBOR head of a byte string of `length` bytes (major type 2). */
function bytesHead(length: number): Uint8Array {
  if (length < 24) return new Uint8Array([0x40 + length]);
  if (length < 0x100) return new Uint8Array([0x58, length]);
  if (length < 0x10000) return new Uint8Array([0x59, length >> 8, length & 0xff]);
  const head = new Uint8Array(9);
  const view = new DataView(head.buffer);
  if (length < 2 ** 32) {
    head[0] = 0x5a;
    view.setUint32(1, length);
    return head.subarray(0, 5);
  }
  head[0] = 0x5b;
  view.setBigUint64(1, BigInt(length));
  return head;
}

/** `h%3A` + hex sha2-256 of the CBOR bytes of `parm` (byte strings hashed without copying). */
function hashedComponent(parm: Parm): string {
  const hash = createHash("sha256");
  if (parm instanceof Uint8Array) hash.update(bytesHead(parm.length)).update(parm);
  else hash.update(encodeValue(parm));
  return HASHED_PREFIX + hash.digest("hex");
}

/** Byte strings up to this length are spelled out as `v` + hex (197 characters at most). */
const MAX_SPELLED_BYTES = 96;

/** The text form of one parm as a single safe path component of at most {@link MAX_COMPONENT} characters. */
export function keyComponent(parm: Parm): string {
  if (parm instanceof CID) {
    const text = parm.toString();
    return text.length <= MAX_COMPONENT ? text : hashedComponent(parm);
  }
  if (typeof parm === "string") {
    if (!parm.isWellFormed()) {
      throw new CacheKeyError("A cache key component is not well-formed unicode (lone surrogate)");
    }
    // Escaping never shortens, so a longer string need not be escaped to know.
    if (parm.length <= MAX_COMPONENT) {
      const text = "s%3A" + escapeComponent(parm);
      if (text.length <= MAX_COMPONENT) return text;
    }
    return hashedComponent(parm);
  }
  if (parm instanceof Uint8Array && parm.length > MAX_SPELLED_BYTES) return hashedComponent(parm);
  const text = "v" + encodeValue(parm).toHex();
  return text.length <= MAX_COMPONENT ? text : hashedComponent(parm);
}

/** Joins parms into a relative cache path, e.g. `bafk.../bafk.../s%3Afoo`. */
export function cacheKey(parms: readonly Parm[]): string {
  if (parms.length === 0) throw new CacheKeyError("A cache key needs at least one parm");
  if (parms.length > MAX_COMPONENTS) {
    throw new CacheKeyError(
      `Cache key of ${parms.length} parms is over the ${MAX_COMPONENTS} limit`,
    );
  }
  return parms.map(keyComponent).join("/");
}

const SAFE_PART = /^[A-Za-z0-9_%.-]+$/;

/** Checks a relative path built elsewhere: safe components only, no escape from the root. */
export function assertSafePath(path: string): void {
  if (
    typeof path !== "string" || path.length === 0 || path.length > MAX_COMPONENT * MAX_COMPONENTS
  ) {
    throw new CacheKeyError(`Unsafe cache path "${String(path).slice(0, 60)}": bad length`);
  }
  for (const part of path.split("/")) {
    if (!SAFE_PART.test(part) || part === "." || part === ".." || part.length > 255) {
      throw new CacheKeyError(`Unsafe cache path component "${part.slice(0, 60)}"`);
    }
  }
}
