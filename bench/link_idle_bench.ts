/**
 * What a quiet grid link costs on the wire: packets and bytes per second per
 * link once the links are up and nothing is asked (liveness pings and their
 * answers, TCP's acknowledgements). A full mesh of `--nodes` hubs in this
 * process, on loopback, in a network namespace of its own (the script runs
 * itself under `unshare -n`, so the loopback counters hold only its
 * traffic); with `--base REF` the hubs of another commit take turns with
 * this tree's, round after round, so both are measured in the same run.
 *
 * Run (as root, for the namespace):
 *   deno run -A bench/link_idle_bench.ts                 # this tree
 *   deno run -A bench/link_idle_bench.ts --base main     # and main's links, interleaved
 *   options: --nodes N (default 6), --seconds S per side per round (default 6), --rounds N (default 3)
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as here from "../kernel/mod.ts";
import * as herePeers from "../kernel/peers/mod.ts";
import { median, printTable } from "./_table.ts";

type KernelApi = typeof here;
type PeersApi = typeof herePeers;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string" },
    nodes: { type: "string", default: "6" },
    seconds: { type: "string", default: "6" },
    rounds: { type: "string", default: "3" },
    inner: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "deno run -A bench/link_idle_bench.ts [--base REF] [--nodes N] [--seconds S] [--rounds N]",
  );
  Deno.exit(0);
}

if (!values.inner) {
  // Again, in a network namespace of its own with its loopback up.
  const self = new URL(import.meta.url).pathname;
  const args = [
    "-n",
    "sh",
    "-c",
    `ip link set lo up && exec "$0" run -A "$@"`,
    Deno.execPath(),
    self,
    "--inner",
    ...Deno.args,
  ];
  const { code } = await new Deno.Command("unshare", { args }).spawn().status;
  Deno.exit(code);
}

/** Loopback's transmitted packets and bytes (each one is also received: count it once). */
async function loopback(): Promise<{ packets: number; bytes: number }> {
  const text = await Deno.readTextFile("/proc/net/dev");
  const line = text.split("\n").find((l) => l.trim().startsWith("lo:"));
  if (!line) throw new Error("No loopback in /proc/net/dev");
  const f = line.trim().split(/[:\s]+/);
  return { bytes: Number(f[9]), packets: Number(f[10]) };
}

/** Loads the kernel of commit `ref` from a temporary worktree; returns it and how to remove it. */
async function loadBase(
  ref: string,
): Promise<{ k: KernelApi; p: PeersApi; remove(): Promise<void> }> {
  const root = new URL("..", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "grid-bench-base-" });
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: root, stderr: "piped" }).output();
    if (!out.success) {
      throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await git("worktree", "add", "--detach", dir, ref);
  const k: KernelApi = await import(`file://${dir}/kernel/mod.ts`);
  const p: PeersApi = await import(`file://${dir}/kernel/peers/mod.ts`);
  return { k, p, remove: () => git("worktree", "remove", "--force", dir) };
}

/** One side's quiet traffic over one round, per link per second. */
interface Sample {
  packets: number;
  bytes: number;
}

/** Brings up a full mesh of `nodes` hubs, lets it settle, then counts its quiet traffic. */
async function measure(k: KernelApi, p: PeersApi, nodes: number, seconds: number) {
  const hubs = await Promise.all(
    Array.from({ length: nodes }, async () =>
      new p.PeerHub({
        identity: await k.generateIdentity(),
        handler: () => Promise.resolve(k.reject("not-found", "quiet")),
      })),
  );
  try {
    const urls = [];
    for (const hub of hubs) urls.push((await hub.listen("127.0.0.1", 0)).url);
    for (let i = 0; i < nodes; i++) for (let j = i + 1; j < nodes; j++) hubs[i].dial(urls[j]);
    const links = nodes * (nodes - 1) / 2;
    const end = Date.now() + 30_000;
    while (hubs.some((h) => h.connected().length < nodes - 1)) {
      if (Date.now() > end) throw new Error("The mesh did not come up in 30 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1_000)); // handshakes' acknowledgements out of the way
    const before = await loopback();
    const start = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await loopback();
    const s = (performance.now() - start) / 1000;
    if (hubs.some((h) => h.connected().length < nodes - 1)) throw new Error("A quiet link was cut");
    return {
      packets: (after.packets - before.packets) / s / links,
      bytes: (after.bytes - before.bytes) / s / links,
    };
  } finally {
    await Promise.all(hubs.map((h) => h.close()));
  }
}

const NODES = Number(values.nodes);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const base = values.base ? await loadBase(values.base) : undefined;
const sides: { name: string; k: KernelApi; p: PeersApi; samples: Sample[] }[] = [
  { name: "after (this tree)", k: here, p: herePeers, samples: [] },
];
if (base) sides.push({ name: `before (${values.base})`, k: base.k, p: base.p, samples: [] });
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of sides) side.samples.push(await measure(side.k, side.p, NODES, SECONDS));
  }
} finally {
  await base?.remove();
}
const links = NODES * (NODES - 1) / 2;
console.log(
  `Quiet links: ${NODES} hubs, ${links} links, ${SECONDS} s per side per round, median of ${ROUNDS} rounds`,
);
const rows = sides.map((side) => {
  const packets = median(side.samples.map((x) => x.packets));
  const bytes = median(side.samples.map((x) => x.bytes));
  return [side.name, packets.toFixed(2), bytes.toFixed(0)];
});
if (base) {
  const ratio = (i: number) =>
    (median(sides[0].samples.map((x) => i === 0 ? x.packets : x.bytes)) /
      median(sides[1].samples.map((x) => i === 0 ? x.packets : x.bytes))).toFixed(2);
  rows.push(["after / before", ratio(0), ratio(1)]);
}
printTable(["side", "packets/s per link", "bytes/s per link"], rows);
