/**
 * How fast a mesh heals (needs root): real agents in network namespaces,
 * each working out its own address (`--advertise auto`), a 10-node mesh by
 * default. Per round it measures:
 *
 * - dead link: a path blackholed both ways → the grid link shown down in
 *   `grid status` on one end;
 * - re-address: a node's address changed with its agent running → every
 *   other node pings it through the tunnel again, and it pings them;
 * - partition: a node cut off for 10 s while a member is revoked → healed →
 *   it holds the same member set as the others and pings them all.
 *
 * Usage: deno run --allow-all bench/faults_bench.ts [--nodes 10] [--rounds 3]
 *
 * Prints a Markdown table. Does nothing when imported by `deno bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MeshLab, type MeshNode, pool } from "../tests/lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "../tests/lab/netns.ts";
import { median, printTable } from "./_table.ts";

const NET = "heal";

async function statusNet(mesh: MeshLab, node: MeshNode) {
  return JSON.parse(await mesh.gridOk(node, ["status", NET, "--json"])).nets[0];
}

async function nodeId(mesh: MeshLab, node: MeshNode): Promise<string> {
  return JSON.parse(await mesh.gridOk(node, ["status", "--json"])).node;
}

/** Every ordered pair between `node` and the `others` pings (one try each). */
async function reaches(mesh: MeshLab, node: MeshNode, others: MeshNode[]): Promise<boolean> {
  const address = await mesh.tunnelAddress(node);
  const checks: Promise<boolean>[] = [];
  for (const o of others) {
    const back = await mesh.tunnelAddress(o);
    checks.push(mesh.lab.ping(o, address!, 1, 0.5), mesh.lab.ping(node, back!, 1, 0.5));
  }
  return (await Promise.all(checks)).every(Boolean);
}

/** ms until `check` holds, polling every `every` ms (undefined after 60 s). */
async function timeUntil(check: () => Promise<boolean>, every = 200): Promise<number | undefined> {
  const start = performance.now();
  const ok = await waitFor(check, 60_000, every);
  return ok ? performance.now() - start : undefined;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { nodes: { type: "string", default: "10" }, rounds: { type: "string", default: "3" } },
  });
  const why = await labSkipReason(["ip", "wg", "wireguard-go", "ping", "iptables"]);
  if (why) {
    console.error(`faults_bench: cannot run: it ${why}`);
    Deno.exit(1);
  }
  const n = Number(values.nodes);
  const results = { dead: [] as number[], readdress: [] as number[], partition: [] as number[] };
  for (let round = 0; round < Number(values.rounds); round++) {
    console.error(`faults_bench: round ${round + 1}, ${n} nodes...`);
    const mesh = await MeshLab.create(n + 1, { auto: true });
    try {
      const nodes = mesh.nodes.slice(0, n);
      await mesh.startAgents(mesh.nodes);
      await mesh.createNet(nodes[0], NET, { cidr: "10.73.0.0/16" });
      await pool(nodes.slice(1), 1, async (node) => {
        const out = await mesh.join(node, NET, await mesh.invite(nodes[0], NET));
        if (out.code !== 0) throw new Error(`join ${node.index}: ${out.stderr}`);
      });
      if (await mesh.waitForMesh(nodes, 60_000) === undefined) throw new Error("no mesh");
      const [a, b, c, d] = nodes;

      const idB = await nodeId(mesh, b);
      await mesh.blackhole(a, b, true);
      const dead = await timeUntil(async () =>
        (await statusNet(mesh, a)).peers.find((p: { id: string }) => p.id === idB)?.link === "down"
      );
      await mesh.blackhole(a, b, false);
      if (dead !== undefined) results.dead.push(dead);

      await mesh.readdress(c, `192.168.77.${100 + c.index}`);
      const others = nodes.filter((x) => x !== c);
      const moved = await timeUntil(() => reaches(mesh, c, others), 100);
      if (moved !== undefined) results.readdress.push(moved);

      await mesh.isolate(d, true);
      await new Promise((r) => setTimeout(r, 2000));
      await mesh.gridOk(a, ["revoke", NET, `node${nodes[n - 1].index}`]);
      await new Promise((r) => setTimeout(r, 8000));
      await mesh.isolate(d, false);
      const live = nodes.slice(0, n - 1).filter((x) => x !== d);
      const wantFormer = () => statusNet(mesh, a).then((s) => s.former.length);
      const former = await wantFormer();
      const healed = await timeUntil(async () =>
        (await statusNet(mesh, d)).former.length === former && await reaches(mesh, d, live)
      );
      if (healed !== undefined) results.partition.push(healed);
    } finally {
      await mesh.destroy();
    }
  }
  const row = (name: string, xs: number[]) => [
    name,
    xs.map((x) => Math.round(x)).join(", "),
    xs.length ? String(Math.round(median(xs))) : "-",
  ];
  printTable(["measure (ms)", "each round", "median"], [
    row(`dead link shown down (${n} nodes)`, results.dead),
    row(`re-addressed node reachable both ways`, results.readdress),
    row(`partition healed (same members, pings all)`, results.partition),
  ]);
}
