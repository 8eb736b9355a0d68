/**
 * Cache keys: a message's parms joined with `/`, one path component per parm,
 * each in a fixed, filesystem-safe text form. No key can name a path outside
 * its cache root: every byte outside `[A-Za-z0-9_-]` is percent-encoded, so
 * `/`, `\`, `.`, NUL and any unicode never reach the filesystem raw.
 *
 * Forms: a hash is its base32 CID text (`bafk...`); a string is `s:` +
 * percent-encoded UTF-8 (the `:` is encoded too, so it reads `s%3A...`);
 * other values are their deterministic CBOR bytes as `v` + hex.
 *
 * @module
 */
import { CID } from "./hash.ts";
import { encodeValue, type Parm } from "./codec.ts";
import { CacheKeyError } from "./errors.ts";

/** Longest path component allowed (most filesystems stop at 255 bytes). */
export const MAX_COMPONENT = 200;
/** Most components a key may have. */
export const MAX_COMPONENTS = 32;

const SAFE = /^[A-Za-z0-9_-]$/;

/** Percent-encodes every UTF-8 byte outside `[A-Za-z0-9_-]`. */
export function escapeComponent(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const ch = String.fromCharCode(byte);
    out += SAFE.test(ch) ? ch : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** The text form of one parm as a single safe path component. */
export function keyComponent(parm: Parm): string {
  let text: string;
  const cid = CID.asCID(parm);
  if (cid) text = cid.toString();
  else if (typeof parm === "string") text = escapeComponent("s:" + parm);
  else text = "v" + encodeValue(parm).toHex();
  if (text.length > MAX_COMPONENT) {
    throw new CacheKeyError(
      `Cache key component of ${text.length} characters is over the ${MAX_COMPONENT} limit`,
    );
  }
  return text;
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

/** Checks a relative path built elsewhere: safe components only, no escape from the root. */
export function assertSafePath(path: string): void {
  if (path.length === 0 || path.length > MAX_COMPONENT * MAX_COMPONENTS) {
    throw new CacheKeyError(`Unsafe cache path "${path.slice(0, 60)}": bad length`);
  }
  for (const part of path.split("/")) {
    if (!/^[A-Za-z0-9_%.-]+$/.test(part) || part === "." || part === ".." || part.length > 255) {
      throw new CacheKeyError(`Unsafe cache path component "${part.slice(0, 60)}"`);
    }
  }
}
