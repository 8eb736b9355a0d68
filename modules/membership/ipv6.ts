/**
 * The IPv6 overlay, pure: every net has a unique local /64 (RFC 4193 style:
 * `fd` and a 40-bit global id from the hash of the net id, subnet 0), and
 * each member's address in it is the prefix and 64 bits of the hash of the
 * net id and its node id. Every node computes the same addresses from the
 * records, so no record carries them and none is allocated; two members
 * collide with odds of about n²/2⁶⁵, and a node keeps its address when it
 * leaves and joins again (its node id is its identity, not its WireGuard key).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { canonicalIpv6 } from "../../kernel/peers/mod.ts";

/** The prefix length of every net's IPv6 block. */
export const IPV6_PREFIX_LENGTH = 64;

/**
 * The net's IPv6 block, e.g. `fd3a:91c2:7e05::/64`.
 *
 * @example
 * ```ts
 * import { ipv6Prefix } from "./ipv6.ts";
 * ipv6Prefix("bafyreia…"); // "fdXX:XXXX:XXXX::/64"
 * ```
 */
export function ipv6Prefix(netId: string): string {
  return `${formatIpv6([...globalId(netId), ...new Uint8Array(10)])}/${IPV6_PREFIX_LENGTH}`;
}

/** Member `memberId`'s IPv6 tunnel address in net `netId` (no prefix length). */
export function ipv6Of(netId: string, memberId: string): string {
  const iid = createHash("sha256").update(`grid/ipv6-iid\n${netId}\n${memberId}`).digest();
  return formatIpv6([...globalId(netId), 0, 0, ...iid.subarray(0, 8)]);
}

/** `fd` and the 40-bit global id: the first 6 bytes of the address. */
function globalId(netId: string): number[] {
  const digest = createHash("sha256").update(`grid/ipv6-prefix\n${netId}`).digest();
  return [0xfd, ...digest.subarray(0, 5)];
}

/** 16 bytes as canonical IPv6 text. */
function formatIpv6(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return canonicalIpv6(groups.join(":"))!;
}
