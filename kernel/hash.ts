/**
 * Hashes are CIDv1 (npm:multiformats) over sha2-256: binary on the wire,
 * base32 multibase (`bafk...`) as their one fixed text form.
 *
 * @module
 */
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { createHash } from "node:crypto";
import { HashError } from "./errors.ts";
import { DAG_CBOR, RAW, SHA2_256 } from "./base/web_hash.ts";

export { CID, DAG_CBOR, RAW, SHA2_256 };

/** Hashes bytes into a CIDv1 (sha2-256), synchronously. */
export function hashBytes(bytes: Uint8Array, codec: number = RAW): CID {
  const sum = createHash("sha256").update(bytes).digest();
  return CID.createV1(codec, Digest.create(SHA2_256, new Uint8Array(sum)));
}

/** Hashes UTF-8 text (a promise, a module's source) into a raw CIDv1. */
export function hashText(text: string): CID {
  return hashBytes(new TextEncoder().encode(text));
}

/** True when `bytes` hash to `cid`'s digest (sha2-256 only). */
export function verifyBytes(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== SHA2_256) return false;
  const sum = new Uint8Array(createHash("sha256").update(bytes).digest());
  const want = cid.multihash.digest;
  if (want.length !== sum.length) return false;
  let diff = 0;
  for (let i = 0; i < sum.length; i++) diff |= sum[i] ^ want[i];
  return diff === 0;
}

/** The one text form of a hash: base32 multibase CIDv1. */
export function hashToText(cid: CID): string {
  return cid.toString();
}

/** Parses the text form; throws {@link HashError} with the offending text quoted. */
export function parseHash(text: string): CID {
  if (text.length === 0 || text.length > 200) {
    throw new HashError(`Invalid hash "${text.slice(0, 60)}": wrong length`);
  }
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch (err) {
    throw new HashError(`Invalid hash "${text.slice(0, 60)}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (cid.version !== 1 || cid.multihash.code !== SHA2_256) {
    throw new HashError(`Invalid hash "${text.slice(0, 60)}": want a CIDv1 over sha2-256`);
  }
  return cid;
}

/** Decodes a binary CID; throws {@link HashError}. */
export function hashFromBytes(bytes: Uint8Array): CID {
  try {
    const cid = CID.decode(bytes);
    if (cid.version !== 1 || cid.multihash.code !== SHA2_256) {
      throw new Error("want a CIDv1 over sha2-256");
    }
    return cid;
  } catch (err) {
    throw new HashError(`Invalid binary hash: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Narrows an unknown value to a CID. Only real CID instances count: a decoded
 * map that merely looks like a CID (`{"/": ..., bytes: ...}`) is not one.
 */
export function isHash(value: unknown): value is CID {
  return value instanceof CID;
}

/** The value as a CID when it is a real CID instance, else null (never a look-alike). */
export function asHash(value: unknown): CID | null {
  return value instanceof CID ? value : null;
}
