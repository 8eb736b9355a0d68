/**
 * Paths across NATs (needs root, iperf3 for throughput): real agents in
 * network namespaces, `--advertise auto`, a fresh lab per round with
 *
 * - r1, r2: reachable members;
 * - a, b: each behind a cone NAT (port-keeping MASQUERADE, home-router firewall);
 * - c, d: each behind a symmetric NAT (MASQUERADE --random-fully);
 * - e, f: each behind an "open" NAT (MASQUERADE, no firewall: punching races).
 *
 * Per round it measures the time from a join returning to the first ping
 * through the tunnel, for: a NATed member and a reachable one (r1 with a,
 * direct), two cone NATs (a with b, punched), two symmetric NATs (c with d,
 * relayed) and two open NATs (e with f); then, side by side, ping round trip
 * and TCP throughput (iperf3, 5 s) over the direct, punched and relayed
 * paths, and which path each pair ended on.
 *
 * Usage: deno run --allow-all bench/nat_bench.ts [--rounds 2]
 *
 * Prints a Markdown table. Does nothing when imported by `deno bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MeshLab, type MeshNode } from "../tests/lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "../tests/lab/netns.ts";
import { median, printTable } from "./_table.ts";

const NET = "natbench";

async function nodeId(mesh: MeshLab, node: MeshNode): Promise<string> {
  return JSON.parse(await mesh.gridOk(node, ["status", "--json"])).node;
}

async function pathOf(mesh: MeshLab, from: MeshNode, to: MeshNode): Promise<string> {
  const id = await nodeId(mesh, to);
  const net = JSON.parse(await mesh.gridOk(from, ["status", NET, "--json"])).nets[0];
  const p = net.peers.find((x: { id: string }) => x.id === id);
  return p ? (p.path === "relay" && p.via === id ? "relay (own link)" : p.path) : "?";
}

/** Ms from now until `from` first pings `to` through the tunnel (both ways). */
async function firstPing(mesh: MeshLab, from: MeshNode, to: MeshNode): Promise<number> {
  const start = performance.now();
  const address = await mesh.tunnelAddress(to);
  const back = await mesh.tunnelAddress(from);
  const ok = await waitFor(
    async () =>
      (await mesh.lab.ping(from, address!, 1, 0.3)) && (await mesh.lab.ping(to, back!, 1, 0.3)),
    120_000,
    50,
  );
  return ok ? performance.now() - start : NaN;
}

/** Average ping round trip in ms over 50 pings 20 ms apart. */
async function rtt(mesh: MeshLab, from: MeshNode, to: MeshNode): Promise<number> {
  const address = (await mesh.tunnelAddress(to))!;
  const out = await mesh.lab.run(from, ["ping", "-n", "-q", "-c", "50", "-i", "0.02", address]);
  const m = /= [\d.]+\/([\d.]+)\//.exec(out.stdout);
  return m ? Number(m[1]) : NaN;
}

/** TCP throughput from `from` to `to` through the tunnel, Mbit/s (iperf3, 5 s). */
async function throughput(mesh: MeshLab, from: MeshNode, to: MeshNode): Promise<number> {
  const address = (await mesh.tunnelAddress(to))!;
  const server = mesh.lab.spawn(to, `iperf3-${to.index}-${Date.now()}`, [
    "iperf3",
    "-s",
    "-1",
    "-B",
    address,
  ]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const out = await mesh.lab.run(from, ["iperf3", "-c", address, "-t", "5", "-J"], {
    timeoutMs: 30_000,
  });
  server.kill();
  try {
    return JSON.parse(out.stdout).end.sum_received.bits_per_second / 1e6;
  } catch {
    return NaN;
  }
}

async function round(haveIperf: boolean): Promise<Record<string, number | string>> {
  const mesh = await MeshLab.create(8, {
    auto: true,
    nat: { 3: "cone", 4: "cone", 5: "symmetric", 6: "symmetric", 7: "open", 8: "open" },
  });
  const [r1, r2, a, b, c, d, e, f] = mesh.nodes;
  const out: Record<string, number | string> = {};
  try {
    await mesh.startAgents();
    await mesh.createNet(r1, NET);
    const join = async (n: MeshNode) => {
      const res = await mesh.join(n, NET, await mesh.invite(r1, NET));
      if (res.code !== 0) throw new Error(`join of node ${n.index}: ${res.stderr}`);
    };
    await join(r2);
    await join(a);
    out["join to first ping: NAT to reachable (ms)"] = await firstPing(mesh, a, r1);
    await join(b);
    out["join to first ping: cone to cone (ms)"] = await firstPing(mesh, a, b);
    await join(c);
    await join(d);
    out["join to first ping: symmetric to symmetric (ms)"] = await firstPing(mesh, c, d);
    await join(e);
    await join(f);
    out["join to first ping: open NAT to open NAT (ms)"] = await firstPing(mesh, e, f);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // let the status settle
    out["path r1-a"] = await pathOf(mesh, r1, a);
    out["path a-b"] = await pathOf(mesh, a, b);
    out["path c-d"] = await pathOf(mesh, c, d);
    out["path e-f"] = await pathOf(mesh, e, f);
    out["ping rtt: direct r1-a (ms)"] = await rtt(mesh, a, r1);
    out["ping rtt: punched a-b (ms)"] = await rtt(mesh, a, b);
    out["ping rtt: relayed c-d (ms)"] = await rtt(mesh, c, d);
    if (haveIperf) {
      out["tcp: direct r1-a (Mbit/s)"] = await throughput(mesh, a, r1);
      out["tcp: punched a-b (Mbit/s)"] = await throughput(mesh, a, b);
      out["tcp: relayed c-d (Mbit/s)"] = await throughput(mesh, c, d);
    }
  } finally {
    await mesh.destroy();
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string" } } });
  const rounds = Number(values.rounds ?? 2);
  const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping", "iptables"]);
  if (skip) {
    console.log(`nat_bench: skipped, ${skip}`);
    Deno.exit(0);
  }
  const haveIperf = await new Deno.Command("iperf3", { args: ["--version"], stdout: "null" })
    .output().then((o) => o.success, () => false);
  const results: Record<string, number | string>[] = [];
  for (let i = 0; i < rounds; i++) {
    console.error(`nat_bench: round ${i + 1} of ${rounds}`);
    results.push(await round(haveIperf));
  }
  const keys = Object.keys(results[0]);
  const cell = (v: number | string) => (typeof v === "number" ? v.toFixed(v < 10 ? 2 : 0) : v);
  printTable(
    ["measure", ...results.map((_, i) => `round ${i + 1}`), "median"],
    keys.map((k) => {
      const vs = results.map((r) => r[k]);
      const nums = vs.filter((v): v is number => typeof v === "number");
      return [k, ...vs.map(cell), nums.length === vs.length ? cell(median(nums)) : "-"];
    }),
  );
  const relayed = results.map((r) => Number(r["tcp: relayed c-d (Mbit/s)"]));
  const direct = results.map((r) => Number(r["tcp: direct r1-a (Mbit/s)"]));
  if (haveIperf) {
    console.log(
      `\nrelayed / direct TCP throughput, median: ${(median(relayed) / median(direct)).toFixed(2)}`,
    );
  }
}
