/**
 * Can this process manage WireGuard here? Checked before a net is created or
 * joined (so no invite is spent and no record written when it cannot) and
 * when the agent starts: the privilege (root or CAP_NET_ADMIN), `wg` and
 * `ip`, and a backend (the kernel's WireGuard, or `wireguard-go` with
 * `/dev/net/tun`). Also: whether an existing link is a WireGuard interface,
 * so grid never takes over, or deletes, a network card it did not make.
 *
 * @module
 */
import { runTool } from "./_run.ts";
import type { WgOptions } from "./wg_apply.ts";

/** CAP_NET_ADMIN's bit in the capability sets of /proc/PID/status. */
const CAP_NET_ADMIN = 12n;

/** Whether the effective capabilities in a `/proc/self/status` text hold CAP_NET_ADMIN (pure). */
export function hasNetAdmin(status: string): boolean {
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
  if (!m) return false;
  return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

async function works(tool: "wg" | "ip" | "wireguard-go", args: string[]): Promise<boolean> {
  try {
    return (await runTool(tool, args, { timeoutMs: 5000 })).code === 0;
  } catch {
    return false; // not installed, or not allowed to run
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why this process cannot manage WireGuard on this machine (one line), or
 * undefined when it can.
 */
export async function wireGuardPreflight(): Promise<string | undefined> {
  const lead = "Cannot manage WireGuard on this machine:";
  let status = "";
  try {
    status = await Deno.readTextFile("/proc/self/status");
  } catch {
    // No /proc (not Linux): the tools below say what is missing.
  }
  if (status && !hasNetAdmin(status)) {
    return `${lead} it needs root or CAP_NET_ADMIN (run it as root, or talk to the grid service)`;
  }
  if (!(await works("wg", ["--version"]))) {
    return `${lead} wg is not installed (apt install wireguard-tools)`;
  }
  if (!(await works("ip", ["-V"]))) return `${lead} ip is not installed (apt install iproute2)`;
  if (await exists("/sys/module/wireguard")) return undefined;
  if (!(await works("wireguard-go", ["--version"]))) {
    return `${lead} the kernel has no WireGuard module and wireguard-go is not installed (apt install wireguard-go)`;
  }
  if (!(await exists("/dev/net/tun"))) {
    return `${lead} wireguard-go needs /dev/net/tun, which is missing`;
  }
  return undefined;
}

/** Whether link `name` exists and is a WireGuard interface (kernel or wireguard-go). */
export async function isWireGuardLink(name: string, options: WgOptions = {}): Promise<boolean> {
  const out = await runTool("wg", ["show", name, "public-key"], options).catch(() => undefined);
  return out?.code === 0;
}
