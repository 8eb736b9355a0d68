/**
 * Whether a network interface exists and is administratively up, from
 * `ip -j link show dev NAME`: what `grid status` reports as the interface's
 * state, and what a failed create checks before removing an interface (one
 * it did not make is never deleted).
 *
 * @module
 */
import { runTool } from "./_run.ts";
import { WireGuardError } from "./wg_error.ts";
import type { WgOptions } from "./wg_apply.ts";

/** A link's presence and state. */
export interface LinkState {
  /** True when a link of that name exists. */
  exists: boolean;
  /** True when it exists and carries the UP flag. */
  up: boolean;
}

/** Parses `ip -j link show dev NAME` output (pure). */
export function parseLinkState(json: string): LinkState {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch (err) {
    throw new WireGuardError("Cannot parse the output of ip -j link", { cause: err });
  }
  const link = Array.isArray(links) ? links[0] as { flags?: unknown } | undefined : undefined;
  if (typeof link !== "object" || link === null) return { exists: false, up: false };
  const flags = Array.isArray(link.flags) ? link.flags : [];
  return { exists: true, up: flags.includes("UP") };
}

/** The state of link `name` (missing: `exists` false). */
export async function readLinkState(name: string, options: WgOptions = {}): Promise<LinkState> {
  const result = await runTool("ip", ["-j", "link", "show", "dev", name], options);
  if (result.code !== 0) {
    if (/does not exist|Cannot find device/i.test(result.stderr)) {
      return { exists: false, up: false };
    }
    throw new WireGuardError(`Cannot read the link state of "${name}": ${result.stderr}`);
  }
  return parseLinkState(result.stdout);
}
