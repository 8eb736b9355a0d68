/**
 * Proof that a node holds the private key of the WireGuard public key it
 * announces: an XEdDSA signature (Signal's XEdDSA over Curve25519, verified
 * as Ed25519 after mapping the Montgomery public key to its Edwards form with
 * sign bit 0). A member request carries one, so no node can claim another
 * node's WireGuard key. The private key is read from its 0600 file here and
 * never leaves this process.
 *
 * @module
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { verifySignature } from "../../kernel/mod.ts";
import { isWgKey } from "./wg_dump.ts";
import { WireGuardError } from "./wg_error.ts";

const Point = ed25519.Point;
const P = Point.CURVE().p;
const L = Point.CURVE().n;

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

function clamp(secret: Uint8Array): bigint {
  const k = Uint8Array.from(secret);
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  return bytesToNumberLE(k);
}

/** The WireGuard (X25519) public key of a private key, both base64. */
export function wgPublicKeyOf(privateKey: string): string {
  return x25519.getPublicKey(decodeKey(privateKey, "private key")).toBase64();
}

/** A fresh WireGuard (X25519) private key, base64: random, clamped like `wg genkey`'s. */
export function newWgPrivateKey(): string {
  const k = crypto.getRandomValues(new Uint8Array(32));
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k.toBase64();
}

function decodeKey(text: string, what: string): Uint8Array {
  const trimmed = text.trim();
  if (!isWgKey(trimmed)) throw new WireGuardError(`Not a WireGuard ${what}`);
  return Uint8Array.fromBase64(trimmed);
}

/** Signs `message` with the WireGuard private key (base64) by XEdDSA; 64 bytes. */
export function signWithWgKey(privateKey: string, message: Uint8Array): Uint8Array {
  const k = clamp(decodeKey(privateKey, "private key"));
  // calculate_key_pair: the Edwards key with sign bit 0 and the matching scalar.
  const E = Point.BASE.multiply(mod(k, L));
  const encoded = E.toBytes();
  const negative = (encoded[31] & 0x80) !== 0;
  const a = negative ? mod(-k, L) : mod(k, L);
  const A = negative ? E.negate().toBytes() : encoded;
  const z = crypto.getRandomValues(new Uint8Array(64));
  const prefix = new Uint8Array(32).fill(0xff);
  prefix[0] = 0xfe;
  const r = mod(bytesToNumberLE(sha512(concat(prefix, numberToBytesLE(a, 32), message, z))), L);
  const R = Point.BASE.multiply(r === 0n ? 1n : r).toBytes();
  const h = mod(bytesToNumberLE(sha512(concat(R, A, message))), L);
  const s = mod((r === 0n ? 1n : r) + h * a, L);
  return concat(R, numberToBytesLE(s, 32));
}

/**
 * True when `signature` is an XEdDSA signature of `message` by the WireGuard
 * key `publicKey` (base64). The Ed25519 check itself is Web Crypto's (native:
 * a node checks one per member record it takes in, many at once in a burst of
 * joins).
 */
export async function verifyWgSignature(
  publicKey: string,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== 64 || !isWgKey(publicKey)) return false;
  const u = bytesToNumberLE(Uint8Array.fromBase64(publicKey)) & ((1n << 255n) - 1n);
  if (u >= P || u === P - 1n) return false;
  // The birational map: y = (u - 1) / (u + 1), with sign bit 0.
  const y = mod((u - 1n) * inverse(u + 1n), P);
  const edwards = numberToBytesLE(y, 32);
  // A y with no point on the curve cannot be imported: verifySignature says false.
  return await verifySignature(edwards, signature, message);
}

function inverse(a: bigint): bigint {
  // Fermat: a^(p-2) mod p.
  let result = 1n;
  let base = mod(a, P);
  let e = P - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % P;
    base = (base * base) % P;
    e >>= 1n;
  }
  return result;
}

/** Signs `message` with the WireGuard private key in `privateKeyFile` (read here, never kept). */
export async function signWithWgKeyFile(
  privateKeyFile: string,
  message: Uint8Array,
): Promise<Uint8Array> {
  let text: string;
  try {
    text = await Deno.readTextFile(privateKeyFile);
  } catch (err) {
    throw new WireGuardError(`Cannot read private key "${privateKeyFile}"`, { cause: err });
  }
  return signWithWgKey(text, message);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
