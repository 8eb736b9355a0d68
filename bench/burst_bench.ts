/**
 * Fleet boot benchmark with real agents in network namespaces (needs root):
 * a founder holds a net and signs one multi-use invite; every other node is
 * provisioned with it in nets.d (as cloud-init would), then all their agents
 * start at the same moment and join on boot. Measured from the start of the
 * burst: every agent listening, every node a member holding every other one
 * (`wg show` lists all N-1 peers), every pair handshaken (each node's
 * `wg show` has a handshake with every peer), and every ordered pair
 * answering a ping through the tunnel (one sweep of N×(N-1) pings, so this
 * figure includes the sweep's own time). Then what the burst cost on the
 * grid links per join (TCP packets and bytes to and from every agent's port,
 * iptables counters), the records the net holds per join, tunnel addresses
 * given twice, and a revoke issued on the founder: until no other node has
 * the revoked node's key in `wg show`, from the CLI's start and from its return.
 *
 * Usage: deno run --allow-all bench/burst_bench.ts [--sizes 20,50]
 *
 * Prints a Markdown table. Does nothing when imported by `deno bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MeshLab, type MeshNode, pool } from "../tests/lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "../tests/lab/netns.ts";
import { printTable } from "./_table.ts";
import { allPairsAnswer, countGridTraffic, gridTraffic } from "./_mesh_measure.ts";

interface Row {
  nodes: number;
  listeningMs: number;
  membersMs?: number;
  handshakesMs?: number;
  pingMs?: number;
  packetsPerJoin: number;
  kbPerJoin: number;
  recordsPerJoin: number;
  duplicateAddresses: number;
  revokeMs?: number;
  revokeAfterCliMs?: number;
}

const NET = "burst";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { sizes: { type: "string", default: "20,50" } },
  });
  const why = await labSkipReason();
  if (why) {
    console.error(`burst_bench: cannot run: it ${why}`);
    Deno.exit(1);
  }
  const rows: Row[] = [];
  for (const n of values.sizes.split(",").map(Number)) {
    console.error(`burst_bench: ${n} nodes...`);
    rows.push(await measure(n));
  }
  const ms = (v?: number) => (v === undefined ? "timeout" : String(Math.round(v)));
  printTable(
    [
      "nodes",
      "all listening (ms)",
      "all members (ms)",
      "all pairs handshaken (ms)",
      "all pairs ping, sweep included (ms)",
      "grid packets / join",
      "grid KB / join",
      "records / join",
      "addresses given twice",
      "revoke: CLI start to gone everywhere (ms)",
      "revoke: CLI returned to gone everywhere (ms)",
    ],
    rows.map((r) => [
      String(r.nodes),
      ms(r.listeningMs),
      ms(r.membersMs),
      ms(r.handshakesMs),
      ms(r.pingMs),
      String(r.packetsPerJoin),
      r.kbPerJoin.toFixed(1),
      r.recordsPerJoin.toFixed(2),
      String(r.duplicateAddresses),
      ms(r.revokeMs),
      ms(r.revokeAfterCliMs),
    ]),
  );
}

async function measure(n: number): Promise<Row> {
  const mesh = await MeshLab.create(n, { logLevel: "warn" });
  try {
    const [founder, ...fleet] = mesh.nodes;
    await mesh.startAgent(founder);
    await mesh.createNet(founder, NET, { cidr: "10.91.0.0/24" });
    const token = await mesh.invite(founder, NET, ["--uses", String(n - 1), "--ttl", "1h"]);
    for (const node of fleet) await mesh.provision(node, NET, token);
    for (const node of mesh.nodes) await countGridTraffic(mesh, node);
    const before = await gridTraffic(mesh);
    const recordsBefore = await records(mesh, founder);

    const start = performance.now();
    await pool(fleet, fleet.length, (node) => mesh.startAgent(node, 120_000));
    const listeningMs = performance.now() - start;
    const keys = new Map<MeshNode, string>();
    const membersMs = await until(start, async () => {
      const dumps = await Promise.all(mesh.nodes.map((node) => mesh.wgDump(node)));
      dumps.forEach((d, i) => d?.device.publicKey && keys.set(mesh.nodes[i], d.device.publicKey));
      return dumps.every((d) => d?.peers.length === n - 1);
    });
    const handshakesMs = await until(start, async () => {
      const dumps = await Promise.all(mesh.nodes.map((node) => mesh.wgDump(node)));
      return dumps.every((d) =>
        d?.peers.length === n - 1 && d.peers.every((p) => p.latestHandshake !== undefined)
      );
    });
    const pingMs = (await allPairsAnswer(mesh, mesh.nodes, 120_000))
      ? performance.now() - start
      : undefined;

    await new Promise((r) => setTimeout(r, 3000)); // the last records and dials settle
    const after = await gridTraffic(mesh);
    const recordsAfter = await records(mesh, founder);
    const addresses = await Promise.all(mesh.nodes.map((node) => mesh.tunnelAddress(node)));
    const given = addresses.filter((a) => a !== undefined);

    const victim = mesh.nodes[n - 1];
    const key = keys.get(victim);
    const revokeStart = performance.now();
    await mesh.gridOk(founder, ["revoke", NET, addresses[n - 1]!]);
    const cliReturned = performance.now();
    const rest = mesh.nodes.slice(0, n - 1);
    const gone = await waitFor(
      async () => {
        const dumps = await Promise.all(rest.map((node) => mesh.wgDump(node)));
        return dumps.every((d) => !d?.peers.some((p) => p.publicKey === key));
      },
      30_000,
      50,
    );
    return {
      nodes: n,
      listeningMs,
      membersMs,
      handshakesMs,
      pingMs,
      packetsPerJoin: Math.round((after.packets - before.packets) / (n - 1)),
      kbPerJoin: (after.bytes - before.bytes) / 1024 / (n - 1),
      recordsPerJoin: (recordsAfter - recordsBefore) / (n - 1),
      duplicateAddresses: given.length - new Set(given).size,
      revokeMs: gone ? performance.now() - revokeStart : undefined,
      revokeAfterCliMs: gone ? performance.now() - cliReturned : undefined,
    };
  } finally {
    await mesh.destroy();
  }
}

/** Polls `done` until it holds (up to 2 minutes); the ms since `start`, or undefined. */
async function until(start: number, done: () => Promise<boolean>): Promise<number | undefined> {
  return (await waitFor(done, 120_000, 50)) ? performance.now() - start : undefined;
}

/** How many records `node` holds for the net. */
async function records(mesh: MeshLab, node: MeshNode): Promise<number> {
  return JSON.parse(await mesh.gridOk(node, ["status", NET, "--json"])).nets[0].records;
}
