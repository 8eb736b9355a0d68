/**
 * Which local address this host uses to reach a destination, from
 * `ip -j route get ADDR`: how a node finds its own underlay address (and
 * notices when it changes) without being told, for `--advertise auto`.
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
