/**
 * Node identity: an Ed25519 key pair generated on this node (Web Crypto),
 * kept 0600 under the grid home, never sent anywhere. The node id is the
 * CIDv1 (codec ed25519-pub, sha2-256) of the raw public key, in text form.
 *
 * @module
 */
import { CID, hashBytes, hashToText } from "./hash.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { ConfigError } from "./errors.ts";

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

/** The raw public key of a PKCS#8 Ed25519 private key (derived, never trusted from disk). */
async function publicKeyOf(pkcs8: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8 as Uint8Array<ArrayBuffer>,
    "Ed25519",
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", key);
  if (typeof jwk.x !== "string") throw new Error("the key has no public half");
  return Uint8Array.fromBase64(jwk.x, { alphabet: "base64url" });
}

/** The identity in `keyPath`, or undefined when there is none yet. */
async function readIdentity(dir: string, keyPath: string): Promise<Identity | undefined> {
  let pkcs8: Uint8Array;
  try {
    pkcs8 = await Deno.readFile(keyPath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`Cannot load node identity from "${dir}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  let pub: Uint8Array;
  try {
    pub = await publicKeyOf(pkcs8);
  } catch (err) {
    throw new ConfigError(`Node identity key "${keyPath}" is corrupt: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return await fromKeys(pkcs8, pub);
}

/**
 * Loads the identity kept in `dir` (files `ed25519.key` 0600 and
 * `ed25519.pub`), generating and saving one on first use. Safe when several
 * processes start at once: the key file appears whole or not at all (written
 * aside, then hard-linked into place, which fails if another process won),
 * and the public key is always derived from the private key on disk.
 */
export async function loadIdentity(dir: string): Promise<Identity> {
  const keyPath = `${dir}/ed25519.key`;
  const pubPath = `${dir}/ed25519.pub`;
  let identity = await readIdentity(dir, keyPath);
  if (!identity) {
    const pair = await crypto.subtle.generateKey("Ed25519", true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${dir}/.tmp-${crypto.randomUUID()}`;
    try {
      await writeFileAtomic(tmp, pkcs8, { mode: 0o600 });
      await Deno.link(tmp, keyPath);
    } catch (err) {
      // Another process created the key first: use theirs.
      if (!(err instanceof Deno.errors.AlreadyExists)) {
        throw new ConfigError(`Cannot save node identity in "${dir}": ${(err as Error).message}`, {
          cause: err,
        });
      }
    } finally {
      await Deno.remove(tmp).catch(() => {}); // best effort: the temp name may not exist
    }
    identity = (await readIdentity(dir, keyPath))!;
  }
  const onDisk = await Deno.readFile(pubPath).catch(() => undefined); // absent or unreadable: rewrite
  if (!onDisk || onDisk.toHex() !== identity.publicKey.toHex()) {
    await writeFileAtomic(pubPath, identity.publicKey, { mode: 0o644 });
  }
  return identity;
}
