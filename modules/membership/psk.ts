/**
 * Pairwise pre-shared keys for nets made with `--psk`, safe against a future
 * quantum adversary: each node holds a hybrid ML-KEM-768 + X25519 key pair
 * (X-Wing, npm:@noble/post-quantum) whose public half travels in its signed
 * member request. For each pair, the member with the lower node id
 * encapsulates to the other's public key and sends only the ciphertext over
 * the authenticated peer link; both sides run HKDF-SHA-256 (Web Crypto) over
 * the shared secret, bound to the net id, both node ids and the ciphertext.
 * The shared secret and the key never travel; a derived tag confirms them.
 * Keys are kept 0600, one file per peer, and given to `wg` by path.
 *
 * @module
 */
import type { ml_kem768_x25519 } from "@noble/post-quantum/hybrid.js";
import { writeTextFileAtomic } from "../../kernel/mod.ts";
import { MembershipError } from "./errors.ts";

/** Bytes of the secret seed of a node's KEM key pair. */
export const KEM_SEED_BYTES = 32;
/** Bytes of a KEM ciphertext. */
export const KEM_CIPHERTEXT_BYTES = 1120;

let kemPackage: Promise<typeof ml_kem768_x25519> | undefined;

/**
 * The hybrid KEM (npm:@noble/post-quantum), loaded on first use: only nets
 * made with `--psk` need it, and a command that never touches one (status,
 * leave, a command line) need not pay for loading it (docs/bench-cli.md).
 */
function loadKem(): Promise<typeof ml_kem768_x25519> {
  kemPackage ??= import("@noble/post-quantum/hybrid.js").then((m) => m.ml_kem768_x25519);
  return kemPackage;
}

/** A node's KEM key pair, from its 32-byte seed. */
export async function kemKeyPair(
  seed: Uint8Array,
): Promise<{ publicKey: Uint8Array; secretKey: Uint8Array }> {
  if (seed.length !== KEM_SEED_BYTES) {
    throw new MembershipError("The PSK key seed must be 32 bytes");
  }
  return (await loadKem()).keygen(seed);
}

/** True when the node `self` encapsulates for the pair (the lower node id does). */
export function isEncapsulator(self: string, peer: string): boolean {
  return self < peer;
}

/** What both sides bind the key to. */
export interface PskBinding {
  /** Net id. */
  net: string;
  /** This node's id. */
  self: string;
  /** The peer's id. */
  peer: string;
}

/** A derived pair key and its confirmation tag. */
export interface DerivedPsk {
  /** The pre-shared key, base64 (what `wg` reads). */
  key: string;
  /** A tag both sides can compare without revealing the key. */
  confirm: Uint8Array;
}

async function derive(
  sharedSecret: Uint8Array,
  cipherText: Uint8Array,
  binding: PskBinding,
): Promise<DerivedPsk> {
  const [low, high] = [binding.self, binding.peer].sort();
  const salt = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`grid/psk/v1/${binding.net}`)),
  );
  const ctHash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", cipherText as Uint8Array<ArrayBuffer>),
  );
  const base = await crypto.subtle.importKey(
    "raw",
    sharedSecret as Uint8Array<ArrayBuffer>,
    "HKDF",
    false,
    ["deriveBits"],
  );
  const bits = async (label: string, length: number) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt,
          info: new TextEncoder().encode(`${label}|${low}|${high}|${ctHash.toHex()}`),
        },
        base,
        length * 8,
      ),
    );
  return {
    key: (await bits("grid/psk/key", 32)).toBase64(),
    confirm: await bits("grid/psk/confirm", 16),
  };
}

/** The encapsulator's side: a ciphertext to send and the derived key. */
export async function encapsulatePsk(
  peerPublicKey: Uint8Array,
  binding: PskBinding,
): Promise<DerivedPsk & { cipherText: Uint8Array }> {
  const { cipherText, sharedSecret } = (await loadKem()).encapsulate(peerPublicKey);
  try {
    return { cipherText, ...(await derive(sharedSecret, cipherText, binding)) };
  } finally {
    sharedSecret.fill(0);
  }
}

/** The other side: the same key from the ciphertext and this node's secret key. */
export async function decapsulatePsk(
  cipherText: Uint8Array,
  secretKey: Uint8Array,
  binding: PskBinding,
): Promise<DerivedPsk> {
  if (cipherText.length !== KEM_CIPHERTEXT_BYTES) {
    throw new MembershipError(`A PSK ciphertext must be ${KEM_CIPHERTEXT_BYTES} bytes`);
  }
  const sharedSecret = (await loadKem()).decapsulate(cipherText, secretKey);
  try {
    return await derive(sharedSecret, cipherText, binding);
  } finally {
    sharedSecret.fill(0);
  }
}

/** Where the PSK shared with `peer` is kept, inside the net's folder. */
export function pskPath(netDir: string, peer: string): string {
  if (!/^[a-z0-9]{10,120}$/.test(peer)) throw new MembershipError(`Invalid node id "${peer}"`);
  return `${netDir}/psk/${peer}.psk`;
}

/** Keeps a PSK (base64) 0600. */
export async function writePsk(path: string, key: string): Promise<void> {
  await writeTextFileAtomic(path, key + "\n", { mode: 0o600 });
}

/** True when a PSK file exists. */
export async function hasPsk(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Timing-safe equality of two tags. */
export function sameTag(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
