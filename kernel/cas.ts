/**
 * The content-addressed store: bytes kept under their own hash. `put` returns
 * the hash; `get` re-hashes the bytes on every read and drops an entry that no
 * longer matches, so a corrupt or tampered file is never returned.
 *
 * @module
 */
import { CID, DAG_CBOR, hashBytes, hashToText, RAW, verifyBytes } from "./hash.ts";
import { CasError } from "./errors.ts";
import type { Storage } from "./storage.ts";

/** Largest blob the CAS stores: 256 MiB. */
export const MAX_BLOB = 256 * 1024 * 1024;

/** Options for {@link Cas}. */
export interface CasOptions {
  /** Largest blob accepted, in bytes (default {@link MAX_BLOB}). */
  maxBlob?: number;
}

/** A content-addressed store over a {@link Storage}. */
export class Cas {
  #storage: Storage;
  #dir: string;
  #maxBlob: number;
  /** Count of entries found corrupt and dropped since start (for status and tests). */
  dropped = 0;

  /** A store keeping blobs under `dir` of `storage`. */
  constructor(storage: Storage, dir = "cas", options: CasOptions = {}) {
    this.#storage = storage;
    this.#dir = dir;
    this.#maxBlob = options.maxBlob ?? MAX_BLOB;
  }

  #checkSize(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new CasError("The CAS stores bytes only");
    if (bytes.length > this.#maxBlob) {
      throw new CasError(`Blob of ${bytes.length} bytes is over the ${this.#maxBlob}-byte limit`);
    }
  }

  #path(cid: CID): string {
    // CIDv1 base32 text is lowercase [a-z2-7]: always a safe file name.
    return `${this.#dir}/${hashToText(cid.toV1())}`;
  }

  /** Stores bytes; returns their hash (raw codec unless `codec` says otherwise). */
  async put(bytes: Uint8Array, codec: number = RAW): Promise<CID> {
    this.#checkSize(bytes);
    const cid = hashBytes(bytes, codec);
    await this.#storage.write(this.#path(cid), bytes);
    return cid;
  }

  /** Stores bytes that must hash to `cid` (e.g. fetched from a peer); throws on mismatch. */
  async putVerified(cid: CID, bytes: Uint8Array): Promise<void> {
    this.#checkSize(bytes);
    if (!verifyBytes(cid, bytes)) {
      throw new CasError(`Content does not match hash "${hashToText(cid)}"`);
    }
    await this.#storage.write(this.#path(cid), bytes);
  }

  /**
   * Stores bytes under `cid` without hashing them again: only for bytes the
   * caller has itself just verified against `cid`. The kernel's write-back
   * of a get answer uses it (see casModule's `store`): the kernel runs
   * GET_PROMISE's verify on the very same bytes before any write-back, so a
   * second hash here would check nothing new. Everything else uses
   * {@link putVerified}. The size limit still applies.
   */
  async putTrusted(cid: CID, bytes: Uint8Array): Promise<void> {
    this.#checkSize(bytes);
    await this.#storage.write(this.#path(cid), bytes);
  }

  /** The bytes for `cid`, verified; undefined when absent or found corrupt (and dropped). */
  async get(cid: CID): Promise<Uint8Array | undefined> {
    const path = this.#path(cid);
    const bytes = await this.#storage.read(path);
    if (bytes === undefined) return undefined;
    if (!verifyBytes(cid, bytes)) {
      this.dropped++;
      await this.#storage.remove(path);
      return undefined;
    }
    return bytes;
  }

  /** True when a verified copy of `cid` is here. */
  async has(cid: CID): Promise<boolean> {
    return (await this.get(cid)) !== undefined;
  }

  /** Hashes of everything stored (unverified listing). */
  async list(): Promise<string[]> {
    return await this.#storage.list(this.#dir);
  }
}

export { DAG_CBOR, RAW };
