/**
 * Mesh benchmarks with real agents in network namespaces (needs root):
 * convergence time (last join returned → every pair has answered a ping
 * through the tunnel) for several mesh sizes, revoke propagation (revoke
 * issued → no other node has the peer in `wg show`), agent resident memory
 * (VmRSS) and idle CPU (utime+stime over a few seconds, /proc/PID/stat).
 *
 * Usage: deno run --allow-all bench/mesh_bench.ts [--sizes 3,10,20] [--idle-seconds 5]
 *
 * Prints a Markdown table. Does nothing when imported by `deno bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MeshLab, type MeshNode, pool } from "../tests/lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "../tests/lab/netns.ts";
import { printTable } from "./_table.ts";

/** One row of results. */
interface Row {
  nodes: number;
  joinsMs: number;
  convergeMs?: number;
  revokeMs?: number;
  rssMeanMb: number;
  rssMaxMb: number;
  wgGoRssMb: number;
  idleCpuPct: number;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sizes: { type: "string", default: "3,10,20" },
      "idle-seconds": { type: "string", default: "5" },
    },
  });
  const why = await labSkipReason();
  if (why) {
    console.error(`mesh_bench: cannot run: it ${why}`);
    Deno.exit(1);
  }
  const sizes = values.sizes.split(",").map(Number);
  const rows: Row[] = [];
  for (const n of sizes) {
    console.error(`mesh_bench: ${n} nodes...`);
    rows.push(await measure(n, Number(values["idle-seconds"])));
  }
  const ms = (v?: number) => (v === undefined ? "timeout" : `${Math.round(v)}`);
  printTable(
    [
      "nodes",
      "all joins (ms)",
      "converge after last join (ms)",
      "revoke propagation (ms)",
      "agent RSS mean / max (MB)",
      "wireguard-go RSS (MB)",
      "agent idle CPU (% of one core)",
    ],
    rows.map((r) => [
      `${r.nodes}`,
      ms(r.joinsMs),
      ms(r.convergeMs),
      ms(r.revokeMs),
      `${r.rssMeanMb.toFixed(1)} / ${r.rssMaxMb.toFixed(1)}`,
      r.wgGoRssMb.toFixed(1),
      r.idleCpuPct.toFixed(2),
    ]),
  );
}

async function measure(n: number, idleSeconds: number): Promise<Row> {
  const mesh = await MeshLab.create(n, { logLevel: "warn" });
  try {
    await mesh.startAgents(mesh.nodes, 3);
    const net = "bench";
    await mesh.createNet(mesh.nodes[0], net, { cidr: "10.90.0.0/24" });
    const joinsStart = performance.now();
    for (let i = 1; i < n; i++) {
      const inviter = mesh.nodes[Math.floor((i - 1) / 2)];
      const out = await mesh.join(mesh.nodes[i], net, await mesh.invite(inviter, net));
      if (out.code !== 0) throw new Error(`join ${i + 1}: ${out.stderr.trim()}`);
    }
    const lastJoin = performance.now();
    const converged = await allPairsAnswer(mesh, mesh.nodes, 60_000);
    const convergeMs = converged ? performance.now() - lastJoin : undefined;

    await new Promise((r) => setTimeout(r, 2000)); // settle before idle measurements
    const agents = mesh.nodes.map((node) => node.agent!.pid);
    const rss = await Promise.all(agents.map(rssMb));
    const wgGo = await wireguardGoPids(mesh);
    const wgGoRss = wgGo.length
      ? (await Promise.all(wgGo.map(rssMb))).reduce((a, b) => a + b, 0) / wgGo.length
      : 0;
    const before = await Promise.all(agents.map(cpuTicks));
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const after = await Promise.all(agents.map(cpuTicks));
    const ticks = after.reduce((sum, t, i) => sum + t - before[i], 0) / agents.length;
    const idleCpuPct = (ticks / 100 / idleSeconds) * 100;

    const victim = mesh.nodes[n - 1];
    const key = await mesh.publicKey(victim);
    const address = await mesh.tunnelAddress(victim);
    const revokeStart = performance.now();
    await mesh.gridOk(mesh.nodes[0], ["revoke", net, address!]);
    const rest = mesh.nodes.slice(0, n - 1);
    const gone = await waitFor(
      async () => {
        const dumps = await Promise.all(rest.map((node) => mesh.wgDump(node)));
        return dumps.every((d) => !d?.peers.some((p) => p.publicKey === key));
      },
      30_000,
      50,
    );
    const revokeMs = gone ? performance.now() - revokeStart : undefined;
    return {
      nodes: n,
      joinsMs: lastJoin - joinsStart,
      convergeMs,
      revokeMs,
      rssMeanMb: rss.reduce((a, b) => a + b, 0) / rss.length,
      rssMaxMb: Math.max(...rss),
      wgGoRssMb: wgGoRss,
      idleCpuPct,
    };
  } finally {
    await mesh.destroy();
  }
}

/** Waits until every ordered pair has answered one ping through the tunnel. */
async function allPairsAnswer(
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

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function wireguardGoPids(mesh: MeshLab): Promise<number[]> {
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
