/**
 * Hashes without npm: CIDv1 over sha2-256 computed with Web Crypto, in their
 * binary form ({@link CidBytes}) and their one text form (base32 multibase,
 * `bafk...`). The same hashes as `kernel/hash.ts` (npm:multiformats over
 * node:crypto), which stays the kernel's everyday one; this one is for the
 * command line's way to a running agent, where loading multiformats and
 * Deno's Node layer would cost more than the whole command (docs/bench-cli.md).
 *
 * @module
 */

/** Multicodec for raw bytes. */
export const RAW = 0x55;
/** Multicodec for DAG-CBOR (structured records). */
export const DAG_CBOR = 0x71;
/** Multihash code for sha2-256. */
export const SHA2_256 = 0x12;

/** A CID in its binary form (as in a tag-42 payload, without the leading 0x00). */
export class CidBytes {
  /** The binary CID. */
  readonly bytes: Uint8Array;
  /** Wraps a binary CID. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  /** True when `other` is a CidBytes with the same bytes. */
  equals(other: unknown): boolean {
    if (!(other instanceof CidBytes) || other.bytes.length !== this.bytes.length) return false;
    for (let i = 0; i < this.bytes.length; i++) if (other.bytes[i] !== this.bytes[i]) return false;
    return true;
  }
}

/** The CIDv1 (sha2-256) of `bytes` under `codec` (both codecs grid uses fit one varint byte). */
export async function sha256Cid(bytes: Uint8Array, codec: number = RAW): Promise<CidBytes> {
  if (codec < 0 || codec > 0x7f) throw new RangeError(`Codec ${codec} needs a longer varint`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  const out = new Uint8Array(4 + digest.length);
  out.set([0x01, codec, SHA2_256, digest.length]);
  out.set(digest, 4);
  return new CidBytes(out);
}

/** The raw CIDv1 of UTF-8 `text` (a promise's address). */
export function textCid(text: string): Promise<CidBytes> {
  return sha256Cid(new TextEncoder().encode(text));
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** The text form of a CIDv1: `b` + lowercase RFC 4648 base32 without padding. */
export function cidText(cid: CidBytes): string {
  let out = "b";
  let bits = 0;
  let value = 0;
  for (const byte of cid.bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}
