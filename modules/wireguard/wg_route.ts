/**
 * This host's own addresses: which local address it uses to reach a
 * destination (`ip -j route get ADDR`), and the global addresses of its
 * interfaces (`ip -j addr show scope global`): how a node finds its own
 * underlay address (and notices when it changes) without being told, for
 * `--advertise auto`, and which addresses it can be reached at.
 *
 * @module
 */
import { runTool } from "./_run.ts";
import type { WgOptions } from "./wg_apply.ts";
import { isIpv4, isIpv6 } from "./wg_validate.ts";

/** The `prefsrc` of `ip -j route get` output (pure), or undefined. */
export function parseRouteSource(json: string): string | undefined {
  let routes: unknown;
  try {
    routes = JSON.parse(json);
  } catch {
    return undefined; // no parsable route: no source
  }
  const route = Array.isArray(routes) ? routes[0] as { prefsrc?: unknown } | undefined : undefined;
  const src = route?.prefsrc;
  return typeof src === "string" && (isIpv4(src) || isIpv6(src)) ? src : undefined;
}

/** The local address used to reach `destination` (an IP address), or undefined when unroutable. */
export async function routeSource(
  destination: string,
  options: WgOptions = {},
): Promise<string | undefined> {
  if (!isIpv4(destination) && !isIpv6(destination)) return undefined;
  const result = await runTool("ip", ["-j", "route", "get", destination], options);
  return result.code === 0 ? parseRouteSource(result.stdout) : undefined;
}

/** The global addresses in `ip -j addr show scope global` output (pure), IPv4 first. */
export function parseGlobalAddresses(json: string): string[] {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(links)) return [];
  const v4: string[] = [];
  const v6: string[] = [];
  for (
    const link of links as {
      ifname?: string;
      addr_info?: { local?: unknown; family?: unknown }[];
    }[]
  ) {
    // Tunnel interfaces (grid's own WireGuard ones among them) are not a way in.
    if (typeof link.ifname === "string" && /^(wg|grid-|tun|tap)/.test(link.ifname)) continue;
    for (const a of link.addr_info ?? []) {
      if (typeof a.local !== "string") continue;
      if (a.family === "inet" && isIpv4(a.local)) v4.push(a.local);
      else if (a.family === "inet6" && isIpv6(a.local)) v6.push(a.local);
    }
  }
  return [...v4, ...v6];
}

/** This host's global addresses (loopback, link-local and tunnel interfaces left out). */
export async function globalAddresses(options: WgOptions = {}): Promise<string[]> {
  const result = await runTool("ip", ["-j", "addr", "show", "scope", "global"], options);
  return result.code === 0 ? parseGlobalAddresses(result.stdout) : [];
}
