/**
 * What the mesh benchmarks measure from outside the agents: pings through
 * the tunnels, grid-link traffic (iptables counters), memory and CPU of a
 * process from /proc.
 *
 * @module
 */
import { type MeshLab, type MeshNode, pool } from "../tests/lab/mesh_lab.ts";

/** Waits until every ordered pair has answered one ping through the tunnel. */
export async function allPairsAnswer(
  mesh: MeshLab,
  nodes: MeshNode[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pending = nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as const));
  const addresses = new Map<MeshNode, string | undefined>();
  while (pending.length > 0 && Date.now() < deadline) {
    for (const node of nodes) {
      if (!addresses.get(node)) addresses.set(node, await mesh.tunnelAddress(node));
    }
    const failed: (typeof pending)[number][] = [];
    await pool([...pending], 16, async (pair) => {
      const to = addresses.get(pair[1]);
      if (!to || !(await mesh.lab.ping(pair[0], to, 1, 0.5))) failed.push(pair);
    });
    pending = failed;
  }
  return pending.length === 0;
}

/** PSS and private (clean + dirty) memory of a process, in MB. */
export async function smapsMb(pid: number): Promise<{ pss: number; private: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { pss: kb("Pss") / 1024, private: (kb("Private_Clean") + kb("Private_Dirty")) / 1024 };
}

/** Counts TCP to and from the agent's port in `node`'s namespace (iptables rules that only count). */
export async function countGridTraffic(mesh: MeshLab, node: MeshNode): Promise<void> {
  for (const port of ["--dport", "--sport"]) {
    await mesh.lab.run(node, ["iptables", "-I", "INPUT", "-p", "tcp", port, "7340"]);
  }
}

/** Packets and bytes received on grid links, summed over every node (each packet counted once). */
export async function gridTraffic(mesh: MeshLab): Promise<{ packets: number; bytes: number }> {
  let packets = 0;
  let bytes = 0;
  for (const node of mesh.nodes) {
    const out = await mesh.lab.run(node, ["iptables", "-L", "INPUT", "-v", "-x", "-n"]);
    for (const line of out.stdout.split("\n")) {
      if (!/tcp [ds]pt:7340/.test(line)) continue;
      const [p, b] = line.trim().split(/\s+/);
      packets += Number(p);
      bytes += Number(b);
    }
  }
  return { packets, bytes };
}

/** Resident memory of a process (VmRSS), in MB. */
export async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
export async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The pids of the wireguard-go processes in the lab's namespaces. */
export async function wireguardGoPids(mesh: MeshLab): Promise<number[]> {
  const pids: number[] = [];
  for (const node of mesh.nodes) {
    const out = await new Deno.Command("ip", { args: ["netns", "pids", node.ns], stdout: "piped" })
      .output();
    for (
      const pid of new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).map(
        Number,
      )
    ) {
      const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => ""); // exited meanwhile
      if (/(^|\/)wireguard-go\0/.test(cmd)) pids.push(pid);
    }
  }
  return pids;
}
