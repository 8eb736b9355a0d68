/**
 * Addresses other machines can use. A node must never tell its peers to
 * reach it at a loopback or unspecified address (a host name that resolves
 * to 127.0.0.1, as Debian's `/etc/hosts` makes the machine's own name), and
 * must never dial or configure a peer at one: that address means "this
 * machine" wherever it is read.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { ConfigError } from "../errors.ts";

/**
 * An IPv6 literal (brackets optional) in its canonical text: lowercase,
 * zeros compressed, no brackets (`FD77:0::1` → `fd77::1`); undefined for
 * anything else (a name, an IPv4 address, a zone `%eth0`).
 */
export function canonicalIpv6(host: string): string | undefined {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  if (!/^[0-9A-Fa-f:.]+$/.test(h) || !h.includes(":")) return undefined;
  try {
    return new URL(`http://[${h}]/`).hostname.slice(1, -1);
  } catch {
    return undefined; // URL parsing is the validator: a throw means "not an IPv6 address"
  }
}

/** The host of URL `text` with an IPv6 literal's brackets off; undefined when it is no URL. */
export function urlHost(text: string): string | undefined {
  try {
    return new URL(text).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return undefined; // not a URL: callers treat it as having no host
  }
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address in canonical text
 * (`::ffff:7f00:1` → `127.0.0.1`, what the URL parser writes for
 * `::ffff:127.0.0.1`); undefined for any other address.
 */
export function mappedIpv4(canonical: string): string | undefined {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!m) return undefined;
  const [hi, lo] = [parseInt(m[1], 16), parseInt(m[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/**
 * Whether `host` is an IPv6 link-local address (fe80::/10, brackets
 * optional): it means something only with a zone (`%eth0`), which names an
 * interface of one machine, so no other node can be told to use it.
 */
export function isLinkLocalHost(host: string): boolean {
  const h = canonicalIpv6(host);
  return h !== undefined && /^fe[89ab][0-9a-f]:/.test(h);
}

/** Whether `host` (a name or an IP literal, IPv6 with or without brackets) only means "this machine". */
export function isLocalOnlyHost(host: string): boolean {
  let h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (h.includes(":")) {
    const v6 = canonicalIpv6(h);
    if (v6 === undefined) return false; // not an address: a name, resolved elsewhere
    if (v6 === "::" || v6 === "::1") return true;
    const v4 = mappedIpv4(v6);
    if (v4 === undefined) return false;
    h = v4;
  }
  const m = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(h);
  if (!m) return false;
  return m[1] === "127" || h === "0.0.0.0";
}

/**
 * Throws a one-line {@link ConfigError} unless `host` can be reached from
 * other machines as far as this one can tell: not a loopback or unspecified
 * address, and a name that resolves to at least one address that is
 * neither. `what` names the setting in the message (`--advertise ws://...`).
 */
export async function checkReachableHost(host: string, what: string): Promise<void> {
  const bare = host.replace(/^\[|\]$/g, "");
  if (isLocalOnlyHost(bare)) {
    throw new ConfigError(
      `${what}: ${bare} only means this machine; give an address other nodes can reach (or --advertise auto)`,
    );
  }
  if (isLinkLocalHost(bare) || bare.includes("%")) {
    throw new ConfigError(
      `${what}: ${bare} is an IPv6 link-local address, which needs a zone (%eth0) that only this machine knows; give a global or ULA address (or --advertise auto)`,
    );
  }
  if (/^[\d.]+$/.test(bare) || bare.includes(":")) return; // an IP literal
  let addresses: { address: string }[];
  try {
    addresses = await lookup(bare, { all: true });
  } catch (err) {
    throw new ConfigError(
      `${what}: host "${bare}" does not resolve here (${err instanceof Error ? err.message : err})`,
      { cause: err },
    );
  }
  if (addresses.length > 0 && addresses.every((a) => isLocalOnlyHost(a.address))) {
    throw new ConfigError(
      `${what}: "${bare}" resolves to ${
        addresses[0].address
      }, which only means this machine (see /etc/hosts); give an address other nodes can reach (or --advertise auto)`,
    );
  }
}
