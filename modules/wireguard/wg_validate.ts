/**
 * Checks a {@link WgInterfaceSpec} before anything is run: every value that
 * becomes an argument of `wg` or `ip` must be exactly what it claims to be
 * (a name, a key, a CIDR, a `host:port`), so no field can smuggle an option.
 *
 * @module
 */
import { isWgKey } from "./wg_dump.ts";
import { WireGuardError } from "./wg_error.ts";
import type { WgInterfaceSpec, WgPeerSpec } from "./wg_state.ts";

/** Most peers one interface may have. */
export const MAX_PEERS = 4096;
/** Most addresses one interface may have. */
export const MAX_ADDRESSES = 16;

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,14}$/;
const PATH = /^\/[^\0\n]{0,4095}$/;
const HOST = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253})$/;

/** True for a usable interface name (1 to 15 characters, no leading dash). */
export function isInterfaceName(name: string): boolean {
  return NAME.test(name) && name !== "." && name !== "..";
}

/** Parses `a.b.c.d/n` or an IPv6 CIDR; returns undefined when it is neither. */
export function parseCidr(
  text: string,
): { address: string; prefix: number; v6: boolean } | undefined {
  const m = /^([0-9A-Fa-f:.]{2,45})\/([0-9]{1,3})$/.exec(text);
  if (!m) return undefined;
  const [, address, prefixText] = m;
  const prefix = Number(prefixText);
  if (isIpv4(address)) return prefix <= 32 ? { address, prefix, v6: false } : undefined;
  if (isIpv6(address)) {
    return prefix <= 128 ? { address: address.toLowerCase(), prefix, v6: true } : undefined;
  }
  return undefined;
}

/** True for a dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
}

/** True for an IPv6 address in any textual form. */
export function isIpv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    // URL parsing is the validator: a throw means "not an IPv6 address".
    return false;
  }
}

/** True for `host:port` or `[v6]:port` with a port in 1..65535. */
export function isEndpoint(text: string): boolean {
  const i = text.lastIndexOf(":");
  if (i <= 0) return false;
  const host = text.slice(0, i);
  const port = text.slice(i + 1);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return false;
  if (!HOST.test(host) || host.startsWith("-")) return false;
  return host.startsWith("[") ? isIpv6(host.slice(1, -1)) : true;
}

/** Throws a {@link WireGuardError} naming the first bad field of `spec`. */
export function validateSpec(spec: WgInterfaceSpec): void {
  const bad = (what: string): never => {
    throw new WireGuardError(`Cannot apply interface "${String(spec.name).slice(0, 32)}": ${what}`);
  };
  if (!isInterfaceName(spec.name)) bad("its name must be 1-15 letters, digits or _.=+-");
  if (!PATH.test(spec.privateKeyFile)) bad("the private key file must be an absolute path");
  if (!Number.isInteger(spec.listenPort) || spec.listenPort < 0 || spec.listenPort > 65535) {
    bad(`bad listen port ${spec.listenPort}`);
  }
  if (!Array.isArray(spec.addresses) || spec.addresses.length === 0) bad("it has no address");
  if (spec.addresses.length > MAX_ADDRESSES) bad(`more than ${MAX_ADDRESSES} addresses`);
  for (const address of spec.addresses) {
    if (!parseCidr(address)) bad(`bad address "${String(address).slice(0, 64)}"`);
  }
  if (
    spec.mtu !== undefined && (!Number.isInteger(spec.mtu) || spec.mtu < 576 || spec.mtu > 9000)
  ) {
    bad(`bad MTU ${spec.mtu}`);
  }
  if (spec.peers.length > MAX_PEERS) {
    bad(`${spec.peers.length} peers is over the limit of ${MAX_PEERS}`);
  }
  const seen = new Set<string>();
  for (const peer of spec.peers) {
    const problem = peerProblem(peer);
    if (problem) bad(problem);
    if (seen.has(peer.publicKey)) bad(`peer ${peer.publicKey} is listed twice`);
    seen.add(peer.publicKey);
  }
}

function peerProblem(peer: WgPeerSpec): string | undefined {
  if (!isWgKey(peer.publicKey)) return "a peer has a malformed public key";
  const key = peer.publicKey;
  if (peer.endpoint !== undefined && !isEndpoint(peer.endpoint)) {
    return `peer ${key} has a bad endpoint "${peer.endpoint.slice(0, 64)}"`;
  }
  if (peer.allowedIps.length > 256) return `peer ${key} has too many allowed IPs`;
  for (const cidr of peer.allowedIps) {
    if (!parseCidr(cidr)) return `peer ${key} has a bad allowed IP "${cidr.slice(0, 64)}"`;
  }
  if (peer.presharedKeyFile !== undefined && !PATH.test(peer.presharedKeyFile)) {
    return `peer ${key} has a pre-shared key file that is not an absolute path`;
  }
  const ka = peer.persistentKeepalive;
  if (ka !== undefined && (!Number.isInteger(ka) || ka < 0 || ka > 65535)) {
    return `peer ${key} has a bad keepalive ${ka}`;
  }
  return undefined;
}
