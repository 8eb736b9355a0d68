/**
 * Mesh benchmarks with real agents in network namespaces (needs root):
 * convergence time (last join returned → every pair has answered a ping
 * through the tunnel) for several mesh sizes, revoke propagation (revoke
 * issued → no other node has the peer in `wg show`), agent memory (VmRSS;
 * PSS and private memory from /proc/PID/smaps_rollup, which count the deno
 * binary's shared pages once), idle CPU (utime+stime over a few seconds,
 * /proc/PID/stat), and what one join costs on the grid links: TCP packets
 * and bytes to and from every agent's port (iptables counters in every
 * namespace), for the last join (the net at its largest).
 *
 * Usage: deno run --allow-all bench/mesh_bench.ts [--sizes 3,10,20,50] [--idle-seconds 5]
 *
 * Prints a Markdown table. Does nothing when imported by `deno bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MeshLab } from "../tests/lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "../tests/lab/netns.ts";
import { printTable } from "./_table.ts";
import {
  allPairsAnswer,
  countGridTraffic,
  cpuTicks,
  gridTraffic,
  rssMb,
  smapsMb,
  wireguardGoPids,
} from "./_mesh_measure.ts";

/** One row of results. */
interface Row {
  nodes: number;
  joinsMs: number;
  convergeMs?: number;
  revokeMs?: number;
  rssMeanMb: number;
  rssMaxMb: number;
  pssMeanMb: number;
  privateMeanMb: number;
  lastJoinMs: number;
  lastJoinPackets: number;
  lastJoinKb: number;
  quietPacketsPerS: number;
  quietKbPerS: number;
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
      "agent PSS / private mean (MB)",
      "last join (ms)",
      "last join: packets / KB on grid links (beyond quiet)",
      "quiet grid traffic: packets / KB per s",
      "wireguard-go RSS (MB)",
      "agent idle CPU (% of one core)",
    ],
    rows.map((r) => [
      `${r.nodes}`,
      ms(r.joinsMs),
      ms(r.convergeMs),
      ms(r.revokeMs),
      `${r.rssMeanMb.toFixed(1)} / ${r.rssMaxMb.toFixed(1)}`,
      `${r.pssMeanMb.toFixed(1)} / ${r.privateMeanMb.toFixed(1)}`,
      `${Math.round(r.lastJoinMs)}`,
      `${r.lastJoinPackets} / ${r.lastJoinKb.toFixed(0)}`,
      `${r.quietPacketsPerS} / ${r.quietKbPerS.toFixed(1)}`,
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
    for (const node of mesh.nodes) await countGridTraffic(mesh, node);
    const joinsStart = performance.now();
    let lastJoinMs = 0;
    let lastJoinTraffic = { packets: 0, bytes: 0 };
    let quietTraffic = { packetsPerS: 0, bytesPerS: 0 };
    let waited = 0; // the quiet-traffic measurement's own waits, left out of the join time
    for (let i = 1; i < n; i++) {
      const inviter = mesh.nodes[Math.floor((i - 1) / 2)];
      const token = await mesh.invite(inviter, net);
      const last = i === n - 1;
      let quiet = { packets: 0, bytes: 0, ms: 1 };
      if (last) {
        // The net settled: first its quiet traffic (liveness pings, anti-entropy rounds) for a
        // while, so that what the join adds can be told from it.
        const pause = performance.now();
        await new Promise((r) => setTimeout(r, 3000));
        const q0 = await gridTraffic(mesh);
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 6000));
        const q1 = await gridTraffic(mesh);
        const ms = performance.now() - t0;
        quiet = { packets: q1.packets - q0.packets, bytes: q1.bytes - q0.bytes, ms };
        quietTraffic = {
          packetsPerS: (quiet.packets / ms) * 1000,
          bytesPerS: (quiet.bytes / ms) * 1000,
        };
        waited += performance.now() - pause;
      }
      const before = last ? await gridTraffic(mesh) : undefined;
      const started = performance.now();
      const out = await mesh.join(mesh.nodes[i], net, token);
      if (out.code !== 0) throw new Error(`join ${i + 1}: ${out.stderr.trim()}`);
      if (last) {
        lastJoinMs = performance.now() - started;
        const pause = performance.now();
        await new Promise((r) => setTimeout(r, 3000)); // the join's records and dials spread
        const after = await gridTraffic(mesh);
        const share = (performance.now() - started) / quiet.ms; // what would have flowed anyway
        lastJoinTraffic = {
          packets: Math.max(0, after.packets - before!.packets - quiet.packets * share),
          bytes: Math.max(0, after.bytes - before!.bytes - quiet.bytes * share),
        };
        waited += performance.now() - pause;
      }
    }
    const lastJoin = performance.now();
    const converged = await allPairsAnswer(mesh, mesh.nodes, 60_000);
    const convergeMs = converged ? performance.now() - lastJoin : undefined;

    await new Promise((r) => setTimeout(r, 2000)); // settle before idle measurements
    const agents = mesh.nodes.map((node) => node.agent!.pid);
    const rss = await Promise.all(agents.map(rssMb));
    const smaps = await Promise.all(agents.map(smapsMb));
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
      joinsMs: lastJoin - joinsStart - waited,
      convergeMs,
      revokeMs,
      rssMeanMb: rss.reduce((a, b) => a + b, 0) / rss.length,
      rssMaxMb: Math.max(...rss),
      pssMeanMb: smaps.reduce((a, b) => a + b.pss, 0) / smaps.length,
      privateMeanMb: smaps.reduce((a, b) => a + b.private, 0) / smaps.length,
      lastJoinMs,
      lastJoinPackets: Math.round(lastJoinTraffic.packets),
      lastJoinKb: lastJoinTraffic.bytes / 1024,
      quietPacketsPerS: Math.round(quietTraffic.packetsPerS),
      quietKbPerS: quietTraffic.bytesPerS / 1024,
      wgGoRssMb: wgGoRss,
      idleCpuPct,
    };
  } finally {
    await mesh.destroy();
  }
}
