/**
 * Can this process manage WireGuard here? Checked before a net is created or
 * joined (so no invite is spent and no record written when it cannot) and
 * when the agent starts: the privilege (root or CAP_NET_ADMIN), `wg` and
 * `ip`, and a backend (`wireguard-go`, or the kernel's WireGuard). Also: whether an existing link is a WireGuard interface,
 * so grid never takes over, or deletes, a network card it did not make.
 *
 * @module
 */
import { runTool } from "./_run.ts";
import type { WgOptions } from "./wg_apply.ts";

async function works(tool: "wg" | "ip" | "wireguard-go", args: string[]): Promise<boolean> {
  try {
    return (await runTool(tool, args, { timeoutMs: 5000 })).code === 0;
  } catch {
    return false; // not installed, or not allowed to run
  }
}

/**
 * Whether this process may change links: sets loopback's MTU to what it is
 * (a change that changes nothing, refused without CAP_NET_ADMIN). Deno does
 * not let a program that may run subprocesses read /proc or /sys, so the
 * capability is asked of the kernel by trying.
 */
async function mayChangeLinks(): Promise<boolean> {
  const shown = await runTool("ip", ["-j", "link", "show", "dev", "lo"], { timeoutMs: 5000 });
  const mtu = shown.code === 0 ? JSON.parse(shown.stdout)?.[0]?.mtu : undefined;
  if (typeof mtu !== "number") return true; // cannot tell: let the real work say
  const set = await runTool("ip", ["link", "set", "dev", "lo", "mtu", String(mtu)], {
    timeoutMs: 5000,
  });
  return !(set.code !== 0 && /not permitted|denied/i.test(set.stderr));
}

/** Whether the kernel makes WireGuard links (a probe link is made and deleted at once). */
async function kernelWireGuard(): Promise<boolean> {
  const probe = `gridprobe${Deno.pid % 100000}`;
  const made = await runTool("ip", ["link", "add", "dev", probe, "type", "wireguard"], {
    timeoutMs: 5000,
  });
  if (made.code !== 0) return false;
  await runTool("ip", ["link", "del", "dev", probe], { timeoutMs: 5000 });
  return true;
}

/**
 * Why this process cannot manage WireGuard on this machine (one line), or
 * undefined when it can.
 */
export async function wireGuardPreflight(): Promise<string | undefined> {
  const lead = "Cannot manage WireGuard on this machine:";
  if (!(await works("ip", ["-V"]))) return `${lead} ip is not installed (apt install iproute2)`;
  if (!(await mayChangeLinks())) {
    return `${lead} it needs root or CAP_NET_ADMIN (run it as root, or talk to the grid service)`;
  }
  if (!(await works("wg", ["--version"]))) {
    return `${lead} wg is not installed (apt install wireguard-tools)`;
  }
  if (await works("wireguard-go", ["--version"])) return undefined;
  if (await kernelWireGuard()) return undefined;
  return `${lead} the kernel has no WireGuard and wireguard-go is not installed (apt install wireguard-go)`;
}

/** Whether link `name` exists and is a WireGuard interface (kernel or wireguard-go). */
export async function isWireGuardLink(name: string, options: WgOptions = {}): Promise<boolean> {
  const out = await runTool("wg", ["show", name, "public-key"], options).catch(() => undefined);
  return out?.code === 0;
}
