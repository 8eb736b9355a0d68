/**
 * Address allocation inside a net's IPv4 CIDR. Two rules, both pure:
 *
 * - An admitter picks a candidate from the hash of the joiner's WireGuard
 *   public key and probes upwards (wrapping) to the first host address no
 *   member holds ({@link allocateAddress}).
 * - When concurrent admits still claim the same address, the member set fold
 *   keeps the claim that comes first in the canonical record order and moves
 *   the other to the next free address after its claim
 *   ({@link nextFreeAddress}); every node runs the same fold, so all agree.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { MembershipError } from "./errors.ts";

/** A parsed IPv4 CIDR. */
export interface Cidr {
  /** The network address as an unsigned 32-bit integer. */
  readonly base: number;
  /** Prefix length, 8..30. */
  readonly prefix: number;
  /** Number of addresses in the block (including network and broadcast). */
  readonly size: number;
  /** Canonical text, e.g. `10.77.0.0/16`. */
  readonly text: string;
}

/** The default CIDR of a new net. */
export const DEFAULT_CIDR = "10.77.0.0/16";

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses dotted-quad IPv4 text into an unsigned integer; null when malformed. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** Formats an unsigned 32-bit integer as dotted-quad text. */
export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/**
 * Parses `A.B.C.D/N` (N from 8 to 30). The address must be the network
 * address itself, so `10.77.0.1/16` is refused rather than silently fixed.
 */
export function parseCidr(text: string): Cidr {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  const base = match ? parseIpv4(match[1]) : null;
  const prefix = match ? Number(match[2]) : NaN;
  if (base === null || !(prefix >= 8 && prefix <= 30)) {
    throw new MembershipError(
      `Invalid CIDR "${text}": want an IPv4 block like 10.77.0.0/16 (/8 to /30)`,
    );
  }
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    throw new MembershipError(
      `Invalid CIDR "${text}": the address is not the network address (try ${
        formatIpv4(base - (base % size))
      }/${prefix})`,
    );
  }
  return { base, prefix, size, text: `${formatIpv4(base)}/${prefix}` };
}

/** Number of usable host addresses (network and broadcast excluded). */
export function hostCount(cidr: Cidr): number {
  return cidr.size - 2;
}

/** The host address at `index` (0-based among usable hosts). */
export function hostAt(cidr: Cidr, index: number): string {
  return formatIpv4(cidr.base + 1 + index);
}

/** The 0-based host index of `address` in `cidr`, or null when it is not a usable host there. */
export function hostIndex(cidr: Cidr, address: string): number | null {
  const value = parseIpv4(address);
  if (value === null) return null;
  const offset = value - cidr.base;
  if (offset < 1 || offset > cidr.size - 2) return null;
  return offset - 1;
}

/** The deterministic first candidate index for a key: sha2-256 of the key, mod host count. */
export function candidateIndex(cidr: Cidr, seed: Uint8Array | string): number {
  const digest = createHash("sha256").update(seed).digest();
  const n = digest.readUInt32BE(0) * 2 ** 16 + digest.readUInt16BE(4);
  return n % hostCount(cidr);
}

/**
 * The first host address at or after host index `start` (wrapping) not in
 * `taken`; throws when the block is full.
 */
export function firstFreeFrom(cidr: Cidr, start: number, taken: ReadonlySet<string>): string {
  const count = hostCount(cidr);
  for (let i = 0; i < count; i++) {
    const address = hostAt(cidr, (start + i) % count);
    if (!taken.has(address)) return address;
  }
  throw new MembershipError(`Net address block "${cidr.text}" is full (${count} addresses)`);
}

/** Options for {@link allocateAddress}. */
export interface AllocateOptions {
  /** Addresses to avoid when possible (e.g. of members who left), tried last. */
  avoid?: ReadonlySet<string>;
}

/**
 * Picks a tunnel address for a joiner: the candidate derived from `seed` (its
 * WireGuard public key), probing upwards past every taken address. Addresses
 * in `options.avoid` are skipped unless nothing else is free.
 */
export function allocateAddress(
  cidr: Cidr,
  seed: Uint8Array | string,
  taken: ReadonlySet<string>,
  options: AllocateOptions = {},
): string {
  const start = candidateIndex(cidr, seed);
  const avoid = options.avoid ?? new Set<string>();
  if (avoid.size > 0 && taken.size + avoid.size < hostCount(cidr)) {
    return firstFreeFrom(cidr, start, new Set([...taken, ...avoid]));
  }
  return firstFreeFrom(cidr, start, taken);
}

/**
 * Where a member whose claimed address collides (or lies outside the block)
 * ends up: the first free host after its claim, or after its key's candidate
 * when the claim is not a host of the block.
 */
export function nextFreeAddress(
  cidr: Cidr,
  claimed: string,
  seed: Uint8Array | string,
  taken: ReadonlySet<string>,
): string {
  const index = hostIndex(cidr, claimed);
  const start = index === null ? candidateIndex(cidr, seed) : (index + 1) % hostCount(cidr);
  return firstFreeFrom(cidr, start, taken);
}

/** True when blocks `a` and `b` share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}
