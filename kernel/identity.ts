/**
 * Node identity: an Ed25519 key pair generated on this node (Web Crypto),
 * kept 0600 under the grid home, never sent anywhere. The node id is the
 * CIDv1 (codec ed25519-pub, sha2-256) of the raw public key, in text form.
 *
 * @module
 */
import { CID, hashBytes, hashToText } from "./hash.ts";
import { writeFileAtomic } from "./fs_storage.ts";
import { GridError } from "./errors.ts";

/** Multicodec for an Ed25519 public key. */
export const ED25519_PUB = 0xed;

/** A node's identity. The private key stays inside `sign`. */
export interface Identity {
  /** Node id: text CID of the public key. */
  readonly id: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Signs bytes with the private key. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** The node id for a raw Ed25519 public key. */
export function nodeIdOf(publicKey: Uint8Array): string {
  return hashToText(hashBytes(publicKey, ED25519_PUB));
}

/** The CID form of a node id, or null when `id` is not one. */
export function parseNodeId(id: string): CID | null {
  try {
    const cid = CID.parse(id);
    return cid.code === ED25519_PUB ? cid : null;
  } catch {
    return null; // not a CID at all: not a node id
  }
}

/** Verifies an Ed25519 signature; false (never a throw) for malformed keys or signatures. */
export async function verifySignature(
  publicKey: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      publicKey as Uint8Array<ArrayBuffer>,
      "Ed25519",
      false,
      ["verify"],
    );
    return await crypto.subtle.verify(
      "Ed25519",
      key,
      signature as Uint8Array<ArrayBuffer>,
      data as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false; // a key Web Crypto cannot import verifies nothing
  }
}

/** Makes an identity from a private key (PKCS#8) and public key (raw). */
async function fromKeys(pkcs8: Uint8Array, publicKey: Uint8Array): Promise<Identity> {
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8 as Uint8Array<ArrayBuffer>,
    "Ed25519",
    false,
    ["sign"],
  );
  return {
    id: nodeIdOf(publicKey),
    publicKey,
    async sign(data) {
      return new Uint8Array(
        await crypto.subtle.sign("Ed25519", privateKey, data as Uint8Array<ArrayBuffer>),
      );
    },
  };
}

/** A fresh identity held only in memory (tests, benchmarks). */
export async function generateIdentity(): Promise<Identity> {
  const pair = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return await fromKeys(pkcs8, pub);
}

/**
 * Loads the identity kept in `dir` (files `ed25519.key` 0600 and
 * `ed25519.pub`), generating and saving one on first use.
 */
export async function loadIdentity(dir: string): Promise<Identity> {
  const keyPath = `${dir}/ed25519.key`;
  const pubPath = `${dir}/ed25519.pub`;
  try {
    const pkcs8 = await Deno.readFile(keyPath);
    const pub = await Deno.readFile(pubPath);
    return await fromKeys(pkcs8, pub);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new GridError(
        "config",
        `Cannot load node identity from "${dir}": ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  const pair = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // Public key first: a crash between the two writes leaves no orphan private key.
  await writeFileAtomic(pubPath, pub, { mode: 0o644 });
  try {
    await Deno.writeFile(keyPath, new Uint8Array(0), { createNew: true, mode: 0o600 });
  } catch (err) {
    // Another process created it first: use theirs.
    if (err instanceof Deno.errors.AlreadyExists) return await loadIdentity(dir);
    throw err;
  }
  await writeFileAtomic(keyPath, pkcs8, { mode: 0o600 });
  return await fromKeys(pkcs8, pub);
}
