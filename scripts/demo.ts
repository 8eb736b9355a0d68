/**
 * `deno task demo [--nodes N] [--psk] [--keep]`: the main job on one
 * machine. As root, builds N network namespaces on a bridge, runs one
 * `grid serve` in each, creates a WireGuard net on the first node, invites
 * and joins the others (through several inviters), then prints the first
 * node's `grid status` table and a ping matrix through the tunnels, by
 * member name (`node2.demo.grid`, answered by each node's agent). Tears
 * everything down on exit, on Ctrl-C and on SIGTERM; `--keep` waits for
 * Ctrl-C before tearing down so the mesh can be explored
 * (`ip netns exec grid-ID-1 wg show`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MeshLab, type MeshNode, pool } from "../tests/lab/mesh_lab.ts";
import { labSkipReason } from "../tests/lab/netns.ts";

const USAGE = "deno task demo [--nodes N] [--psk] [--keep]";

if (import.meta.main) Deno.exit(await main(Deno.args));

/** Runs the demo; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let nodes: number;
  let psk: boolean;
  let keep: boolean;
  try {
    const { values } = parseArgs({
      args,
      options: {
        nodes: { type: "string", default: "4" },
        psk: { type: "boolean" },
        keep: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    });
    nodes = Number(values.nodes);
    psk = values.psk ?? false;
    keep = values.keep ?? false;
    if (!Number.isInteger(nodes) || nodes < 2 || nodes > 50) {
      throw new Error("--nodes must be 2..50");
    }
  } catch (err) {
    console.error(`demo: ${(err as Error).message}; usage: ${USAGE}`);
    return 2;
  }
  const why = await labSkipReason();
  if (why) {
    console.error(`demo: cannot run: it ${why}`);
    return 1;
  }
  const step = (text: string) => console.log(`\x1b[1m==> ${text}\x1b[0m`);
  step(`building ${nodes} network namespaces on a bridge`);
  const mesh = await MeshLab.create(nodes);
  let torn = false;
  const teardown = async () => {
    if (torn) return;
    torn = true;
    step("tearing down (agents, wireguard-go, namespaces)");
    await mesh.destroy();
  };
  const onSignal = () => {
    teardown().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    for (const node of mesh.nodes) await mesh.useGridDns(node);
    step(`starting ${nodes} agents: grid serve --advertise ws://ADDR:7340`);
    await mesh.startAgents();
    const net = "demo";
    step(`node 1: grid create-wireguard-net ${net} --cidr 10.88.0.0/24${psk ? " --psk" : ""}`);
    await mesh.createNet(mesh.nodes[0], net, { cidr: "10.88.0.0/24", psk });
    const started = performance.now();
    for (let i = 1; i < nodes; i++) {
      const inviter = mesh.nodes[Math.floor((i - 1) / 2)];
      const token = await mesh.invite(inviter, net);
      console.log(`    node ${inviter.index}: grid invite ${net}  ->  ${token.slice(0, 32)}...`);
      const out = await mesh.join(mesh.nodes[i], net, token);
      if (out.code !== 0) throw new Error(`node ${i + 1} could not join: ${out.stderr.trim()}`);
      console.log(`    node ${i + 1}: grid join-wireguard-net ${net} <invite>  ok`);
    }
    step("waiting until every pair pings through the tunnel");
    const took = await mesh.waitForMesh(mesh.nodes, 60_000);
    console.log(
      took === undefined
        ? "    the mesh did not converge within 60 s"
        : `    converged ${Math.round(took)} ms after the last join (${
          Math.round(performance.now() - started)
        } ms for all joins)`,
    );
    step(`node 1: grid status ${net}`);
    console.log((await mesh.gridOk(mesh.nodes[0], ["status", net])).trimEnd());
    step(`ping matrix (row pings column by name, nodeN.${net}.grid, through the tunnel)`);
    console.log(await pingMatrix(mesh, net));
    if (keep) {
      step(`mesh is up; namespaces grid-${mesh.lab.id}-1..${nodes}; press Ctrl-C to tear down`);
      await new Promise(() => {});
    }
    return took === undefined ? 1 : 0;
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    console.error(`demo: logs in ${mesh.lab.logDir} (kept only with GRID_KEEP_LAB=1)`);
    return 1;
  } finally {
    await teardown();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

async function pingMatrix(mesh: MeshLab, net: string): Promise<string> {
  const addresses = new Map<MeshNode, string>();
  for (const node of mesh.nodes) addresses.set(node, (await mesh.tunnelAddress(node)) ?? "-");
  const ok = new Map<string, boolean>();
  const pairs = mesh.nodes.flatMap((a) =>
    mesh.nodes.filter((b) => b !== a).map((b) => [a, b] as const)
  );
  await pool([...pairs], 8, async ([a, b]) => {
    ok.set(`${a.index}>${b.index}`, await mesh.lab.ping(a, `node${b.index}.${net}.grid`, 2));
  });
  const names = new Map(mesh.nodes.map((n) => [n, `node${n.index}.${net}.grid`]));
  const nameWidth = Math.max(...[...names.values()].map((n) => n.length)) + 2;
  const width = Math.max(...[...addresses.values()].map((a) => a.length)) + 2;
  const header = "".padEnd(nameWidth + width) +
    mesh.nodes.map((n) => `n${n.index}`.padEnd(5)).join("");
  const rows = mesh.nodes.map((a) =>
    names.get(a)!.padEnd(nameWidth) + addresses.get(a)!.padEnd(width) +
    mesh.nodes.map((b) =>
      (a === b ? "-" : ok.get(`${a.index}>${b.index}`) ? "ok" : "FAIL").padEnd(5)
    ).join("")
  );
  return [header, ...rows].join("\n");
}
