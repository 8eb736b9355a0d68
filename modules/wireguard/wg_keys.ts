/**
 * WireGuard keys made on this node, in this process: a private key is 32
 * random bytes clamped as X25519 wants (exactly what `wg genkey` prints), its
 * public key derived with @noble/curves' X25519 (what `wg pubkey` prints), a
 * pre-shared key 32 random bytes (`wg genpsk`), all from the Web Crypto
 * random source, with no subprocess. A secret goes straight into a file
 * created 0600 (never readable by others, not even for a moment) and is
 * handed to `wg` afterwards by path only. Creation is idempotent: an existing
 * key is reused, never replaced.
 *
 * @module
 */
import { isWgKey, keyFingerprint } from "./wg_dump.ts";
import { WireGuardError } from "./wg_error.ts";
import { newWgPrivateKey, wgPublicKeyOf } from "./wg_proof.ts";

/** A fresh pre-shared key, base64 (like `wg genpsk`). */
function makePresharedKey(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64();
}

/** A node's WireGuard identity: the public key and where its private key lives. */
export interface WgKeyPair {
  /** Base64 public key (safe to publish). */
  publicKey: string;
  /** Path of the 0600 file holding the private key. */
  privateKeyFile: string;
}

/** Options for {@link generateKeyPair}. */
export interface GenerateKeyPairOptions {
  /** File name inside the directory; default `wg.key`. */
  fileName?: string;
}

/**
 * Makes (or reuses) the private key `DIR/wg.key` and returns its public key.
 *
 * @example
 * ```ts
 * import { generateKeyPair } from "./wg_keys.ts";
 * const { publicKey, privateKeyFile } = await generateKeyPair("/root/.grid/state/wireguard");
 * ```
 */
export async function generateKeyPair(
  dir: string,
  options: GenerateKeyPairOptions = {},
): Promise<WgKeyPair> {
  const privateKeyFile = `${dir.replace(/\/+$/, "")}/${options.fileName ?? "wg.key"}`;
  await ensureSecretFile(privateKeyFile, "private key", newWgPrivateKey);
  return { publicKey: await publicKeyOf(privateKeyFile), privateKeyFile };
}

/** Makes (or reuses) a pre-shared key file at `path` with `wg genpsk`; returns `path`. */
export async function generatePresharedKey(path: string): Promise<string> {
  await ensureSecretFile(path, "pre-shared key", makePresharedKey);
  return path;
}

/** Public keys already derived, by the SHA-256 fingerprint of their private key (saves a spawn per apply). */
const publicKeys = new Map<string, string>();

/** The public key of the private key in `privateKeyFile` (as `wg pubkey` would print it). */
export async function publicKeyOf(privateKeyFile: string): Promise<string> {
  const secret = await readKeyFile(privateKeyFile, "private key");
  if (secret === undefined) {
    throw new WireGuardError(`Cannot read private key "${privateKeyFile}": it does not exist`);
  }
  const fingerprint = keyFingerprint(secret);
  const known = publicKeys.get(fingerprint);
  if (known !== undefined) return known;
  const publicKey = wgPublicKeyOf(secret);
  if (publicKeys.size >= 64) publicKeys.clear();
  publicKeys.set(fingerprint, publicKey);
  return publicKey;
}

/** Reads a key file; undefined when missing. Fixes a too-open mode to 0600. */
async function readKeyFile(path: string, what: string): Promise<string | undefined> {
  let text: string;
  try {
    text = (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new WireGuardError(`Cannot read ${what} "${path}"`, { cause: err });
  }
  if (!isWgKey(text)) {
    throw new WireGuardError(`Cannot use ${what} "${path}": it is not a WireGuard key`);
  }
  const info = await Deno.stat(path);
  if (info.mode !== null && (info.mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
  return text;
}

/**
 * Creates `path` with a key from `make` unless it already holds one: the key
 * is written to a temp file opened 0600, synced, then hard-linked into place
 * (so a concurrent creator never has its key replaced), then the temp is removed.
 */
async function ensureSecretFile(path: string, what: string, make: () => string): Promise<void> {
  if (await readKeyFile(path, what) !== undefined) return;
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : ".";
  const tmp = `${dir}/.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      const key = make();
      await file.write(new TextEncoder().encode(`${key}\n`));
      await file.sync();
    } finally {
      file.close();
    }
    try {
      await Deno.link(tmp, path);
    } catch (err) {
      // Someone else created the key first: theirs stands.
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  } catch (err) {
    if (err instanceof WireGuardError) throw err;
    throw new WireGuardError(`Cannot create ${what} "${path}"`, { cause: err });
  } finally {
    await Deno.remove(tmp).catch(() => {
      // The temp file may never have been created; nothing to clean then.
    });
  }
}
