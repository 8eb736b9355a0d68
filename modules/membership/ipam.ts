/**
 * Address allocation inside a net's IPv4 CIDR, pure. Each admin allocates
 * from its own slice of the block (the founder: the block minus every slice
 * it granted), so two admins never claim the same address: an admin picks a
 * candidate from the hash of the joiner's WireGuard public key and probes
 * upwards (wrapping, inside its slice) to the first host address no live
 * member holds ({@link allocateAddress}). The fold voids an admit whose
 * address is held; nobody is ever moved. {@link pickSlice} picks a new
 * admin's slice.
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
  if (text.includes(":")) {
    throw new MembershipError(
      `Invalid CIDR "${text}": IPv6-only nets are not supported yet; every net has an IPv6 /64 besides its IPv4 block (docs/membership.md)`,
    );
  }
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

/** Options for {@link allocateAddress}. */
export interface AllocateOptions {
  /** Addresses to avoid when possible (e.g. of members who left), tried last. */
  avoid?: ReadonlySet<string>;
  /** Allocate inside this block only (an admin's slice). */
  within?: Cidr;
  /** Never allocate inside these blocks (other admins' slices, for the founder). */
  exclude?: readonly Cidr[];
  /** Addresses to take first when free and allowed (a returning node's former address). */
  prefer?: readonly string[];
}

/**
 * Picks a tunnel address for a joiner: the candidate derived from `seed` (its
 * WireGuard public key), probing upwards past every taken address, inside
 * `options.within` (default the whole block) and outside `options.exclude`.
 * Addresses in `options.avoid` are skipped unless nothing else is free.
 */
export function allocateAddress(
  cidr: Cidr,
  seed: Uint8Array | string,
  taken: ReadonlySet<string>,
  options: AllocateOptions = {},
): string {
  const block = options.within ?? cidr;
  const count = block === cidr ? hostCount(cidr) : block.size;
  const first = block === cidr ? cidr.base + 1 : block.base;
  const start = candidateIndex(cidr, seed) % count;
  const exclude = options.exclude ?? [];
  const usable = (value: number) =>
    value > cidr.base && value < cidr.base + cidr.size - 1 &&
    !exclude.some((c) => value >= c.base && value < c.base + c.size);
  const inBlock = (value: number) => value >= first && value < first + count;
  for (const address of options.prefer ?? []) {
    const value = parseIpv4(address);
    if (value !== null && inBlock(value) && usable(value) && !taken.has(address)) {
      return address;
    }
  }
  let fallback: string | undefined;
  for (let i = 0; i < count; i++) {
    const value = first + (start + i) % count;
    if (!usable(value)) continue;
    const address = formatIpv4(value);
    if (taken.has(address)) continue;
    if (options.avoid?.has(address)) {
      fallback ??= address;
      continue;
    }
    return address;
  }
  if (fallback !== undefined) return fallback;
  throw new MembershipError(
    `No free address in ${block === cidr ? `net block "${cidr.text}"` : `slice "${block.text}"`}`,
  );
}

/**
 * A slice for a new admin: the first aligned block of `prefix` inside `cidr`
 * that overlaps no other slice, preferring one that holds the fewest of
 * `held` (the live members' addresses). Throws when none is left.
 */
export function pickSlice(
  cidr: Cidr,
  prefix: number,
  slices: readonly Cidr[],
  held: readonly string[],
): Cidr {
  if (prefix < cidr.prefix + 1 || prefix > 30) {
    throw new MembershipError(
      `Invalid slice size /${prefix}: use /${cidr.prefix + 1} to /30 inside ${cidr.text}`,
    );
  }
  const size = 2 ** (32 - prefix);
  let best: Cidr | undefined;
  let bestHeld = Infinity;
  for (let base = cidr.base; base < cidr.base + cidr.size; base += size) {
    const c: Cidr = { base, prefix, size, text: `${formatIpv4(base)}/${prefix}` };
    if (slices.some((s) => cidrsOverlap(s, c))) continue;
    const inside = held.filter((a) => {
      const v = parseIpv4(a);
      return v !== null && v >= base && v < base + size;
    }).length;
    if (inside < bestHeld) {
      best = c;
      bestHeld = inside;
      if (inside === 0) break;
    }
  }
  if (!best) throw new MembershipError(`No free /${prefix} slice is left in ${cidr.text}`);
  return best;
}

/** The default slice size for a new admin in `cidr`: a sixteenth of the block (at most /30). */
export function defaultSlicePrefix(cidr: Cidr): number {
  return Math.min(cidr.prefix + 4, 30);
}

/** True when blocks `a` and `b` share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}
