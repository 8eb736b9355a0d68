/**
 * The forms of the small strings membership data carries: net names, node
 * names, WireGuard public keys, endpoints and grid URLs.
 *
 * @module
 */
import { canonicalIpv6 } from "../../kernel/peers/mod.ts";
import { MembershipError } from "./errors.ts";

/** A net name: letters, digits, `.`, `_`, `-`; 1 to 32 characters. */
export const NET_NAME: RegExp = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
/** A member's display name (usually its hostname). */
export const NODE_NAME: RegExp = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** A WireGuard public key: base64 of 32 bytes. */
export const WG_KEY: RegExp = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
/** `host:port`, with a bracketed IPv6 host allowed. */
export const ENDPOINT: RegExp = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/;
/** A grid WebSocket URL. */
export const GRID_URL: RegExp = /^wss?:\/\/[^\s/?#]{1,253}(\/[^\s]{0,200})?$/;

/** Checks a net name; throws a clear {@link MembershipError}. */
export function checkNetName(name: string): string {
  if (!NET_NAME.test(name)) {
    throw new MembershipError(
      `Invalid net name "${name.slice(0, 40)}": use 1 to 32 letters, digits, ".", "_" or "-"`,
    );
  }
  return name;
}

/**
 * Checks a `host:port` endpoint (port 1..65535, an IPv6 host in brackets)
 * and returns it canonical: an IPv6 host lowercase and compressed
 * (`[FD77:0::1]:51820` → `[fd77::1]:51820`), so it compares equal to what
 * `wg` prints and what peers observe.
 */
export function checkEndpoint(endpoint: string): string {
  const match = ENDPOINT.exec(endpoint);
  const port = match ? Number(match[2]) : 0;
  const shown = endpoint.slice(0, 60);
  if (!match || port < 1 || port > 65535) {
    const zone = endpoint.includes("%")
      ? " (no IPv6 zone: peers cannot use this machine's %IF)"
      : "";
    throw new MembershipError(`Invalid endpoint "${shown}": want HOST:PORT or [IPV6]:PORT${zone}`);
  }
  if (!match[1].startsWith("[")) return endpoint;
  const v6 = canonicalIpv6(match[1]);
  if (v6 === undefined) {
    throw new MembershipError(`Invalid endpoint "${shown}": ${match[1]} is not an IPv6 address`);
  }
  return `[${v6}]:${port}`;
}

/** Checks a `ws://` or `wss://` URL. */
export function checkGridUrl(url: string): string {
  if (!GRID_URL.test(url)) {
    throw new MembershipError(`Invalid grid URL "${url.slice(0, 60)}": want ws://HOST:PORT`);
  }
  return url;
}

/** A node name derived from a hostname: cut to the allowed characters and length. */
export function nodeNameFrom(hostname: string): string {
  const cleaned = hostname.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 63);
  return cleaned.length > 0 ? cleaned : "node";
}
