/**
 * What the agent's memory is made of: one real agent (`grid serve`, the
 * release permissions, its own home, no root needed) measured from outside
 * (VmRSS; PSS and private memory from /proc/PID/smaps_rollup: the deno
 * binary's shared pages count once in PSS and not at all in private memory)
 * idle, then with more and more authenticated grid links (peer hubs in this
 * process dial it); and, in this process, what a net's records cost on the
 * heap (parsed and folded, per member).
 *
 * Usage: deno run --allow-all --v8-flags=--expose-gc bench/memory_bench.ts [--links 0,10,25,50]
 *
 * Prints Markdown tables. Does nothing when imported by `deno bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { generateIdentity } from "../kernel/mod.ts";
import { PeerHub } from "../kernel/peers/mod.ts";
import { accept } from "../kernel/mod.ts";
import { startAgent } from "../tests/lab/agents.ts";
import {
  admitRecord,
  inviteFor,
  makeNet,
  memberRequest,
  testNode,
} from "../modules/membership/_testing_net.ts";
import { foldMembers, type MemberRecord, parseRecord } from "../modules/membership/mod.ts";
import { printTable } from "./_table.ts";

interface Memory {
  rss: number;
  pss: number;
  priv: number;
}

async function memory(pid: number): Promise<Memory> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return {
    rss: kb("Rss") / 1024,
    pss: kb("Pss") / 1024,
    priv: (kb("Private_Clean") + kb("Private_Dirty")) / 1024,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An agent with links to 0, then more, peers: its memory at each count. */
async function links(counts: number[]): Promise<[number, Memory][]> {
  const home = await Deno.makeTempDir({ prefix: "grid-mem-" });
  // startAgent waits for the listening line, drains the output and fails if the agent dies.
  const agent = await startAgent(home, { logLevel: "warn" });
  const hubs: PeerHub[] = [];
  try {
    const url = agent.url;
    const out: [number, Memory][] = [];
    for (const count of counts) {
      while (hubs.length < count) {
        const hub = new PeerHub({
          identity: await generateIdentity(),
          handler: () => Promise.resolve(accept()),
        });
        hub.dial(url);
        hubs.push(hub);
      }
      const deadline = Date.now() + 30_000;
      while (hubs.some((h) => h.connected().length === 0) && Date.now() < deadline) {
        await sleep(100);
      }
      await sleep(8000); // settle: pings flow, garbage is collected
      out.push([count, await memory(agent.child.pid)]);
    }
    return out;
  } finally {
    for (const h of hubs) await h.close();
    await agent.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** A net of `members` members' records, as a node holds them: bytes, parsed, folded. */
async function records(members: number): Promise<MemberRecord[]> {
  const net = await makeNet({ cidr: "10.0.0.0/16" });
  let parent = net.records[1].id;
  for (let i = 1; i < members; i++) {
    const invite = await inviteFor(net.founder, net.net, { uses: 1 });
    const rec = await admitRecord(
      net.founder,
      net.net,
      await memberRequest(await testNode(), net.net, { invite }),
      `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      [parent],
    );
    net.records.push(rec);
    parent = rec.id;
  }
  return net.records;
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().heapUsed / 1024 / 1024;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { links: { type: "string" } } });
  const counts = (values.links ?? "0,10,25,50").split(",").map(Number);
  const rows = await links(counts);
  printTable(
    ["grid links", "agent RSS (MB)", "PSS (MB)", "private (MB)", "private per link (KB)"],
    rows.map(([n, m]) => [
      `${n}`,
      m.rss.toFixed(1),
      m.pss.toFixed(1),
      m.priv.toFixed(1),
      n === 0 ? "-" : (((m.priv - rows[0][1].priv) * 1024) / n).toFixed(0),
    ]),
  );
  console.log();
  const out: string[][] = [];
  for (const members of [50, 200, 1000]) {
    const made = await records(members);
    const bytes = made.map((r) => r.bytes);
    const before = heapMb();
    const parsed = await Promise.all(bytes.map((b) => parseRecord(b)));
    const set = foldMembers(parsed);
    const after = heapMb();
    out.push([
      `${members}`,
      (bytes.reduce((a, b) => a + b.length, 0) / made.length / 1024).toFixed(2),
      (((after - before) * 1024) / members).toFixed(1),
      `${set.members.size}`,
    ]);
  }
  printTable(
    ["members", "record size (KB)", "heap per member, parsed and folded (KB)", "live"],
    out,
  );
}
