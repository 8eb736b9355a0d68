/**
 * Codec before/after in one process: the cases of codec_bench.ts, run
 * with this tree's codec and another tree's in alternating short rounds,
 * timed by this process's CPU time (what a busy machine disturbs least),
 * median of the rounds per side.
 *
 * Run:
 *   git archive REF kernel | tar -x -C /tmp/before
 *   deno run -A bench/codec_compare.ts --base /tmp/before/kernel/codec.ts [--rounds 15] [--ms 150]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import type * as Codec from "../kernel/codec.ts";
import * as here from "../kernel/codec.ts";
import { hashText } from "../kernel/hash.ts";
import { median, printTable } from "./_table.ts";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "15" },
    ms: { type: "string", default: "150" },
  },
});
if (!values.base) throw new Error("Usage: codec_compare.ts --base PATH/kernel/codec.ts");
const base: typeof Codec = await import(new URL(values.base, `file://${Deno.cwd()}/`).href);

const PROMISE = hashText("bench promise");
const MODULE = hashText("bench module");
const RECORD: Codec.Parm = {
  grid: "member/v1",
  net: "office",
  node: hashText("node"),
  name: "laptop-7",
  address: "10.77.0.12/32",
  endpoint: "192.0.2.10:51820",
  publicKey: new Uint8Array(32).fill(7),
  identity: new Uint8Array(32).fill(9),
  admittedBy: hashText("admin"),
  seq: 42,
  at: 1_767_225_600_000,
  tags: ["laptop", "eu"],
  signature: new Uint8Array(64).fill(1),
};
const MESSAGES: [string, Codec.Parms][] = [
  ["small request", [PROMISE, MODULE, "join-wireguard-net", "office", {
    endpoint: "10.0.0.1:51820",
  }]],
  ["1 KiB payload", [PROMISE, MODULE, new Uint8Array(1024).map((_, i) => i * 7)]],
  ["64 KiB payload", [PROMISE, MODULE, new Uint8Array(65536).map((_, i) => i * 13)]],
];

type Case = { name: string; run: (c: typeof Codec) => () => void };
const cases: Case[] = [];
for (const [label, parms] of MESSAGES) {
  cases.push({ name: `encodeMessage, ${label}`, run: (c) => () => c.encodeMessage(parms) });
  cases.push({
    name: `decodeMessage, ${label}`,
    run: (c) => {
      const bytes = c.encodeMessage(parms);
      return () => c.decodeMessage(bytes);
    },
  });
}
cases.push({ name: "encodeValue, member record", run: (c) => () => c.encodeValue(RECORD) });
cases.push({
  name: "decodeValue, member record",
  run: (c) => {
    const bytes = c.encodeValue(RECORD);
    return () => c.decodeValue(bytes);
  },
});

/** CPU ns per call of `fn` over about `ms` of wall time. */
function measure(fn: () => void, ms: number): number {
  for (let i = 0; i < 200; i++) fn();
  const start = process.cpuUsage();
  const until = performance.now() + ms;
  let n = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / n;
}

const rounds = Number(values.rounds);
const ms = Number(values.ms);
const rows: string[][] = [];
for (const c of cases) {
  const after: number[] = [];
  const before: number[] = [];
  const fnAfter = c.run(here);
  const fnBefore = c.run(base);
  for (let r = 0; r < rounds; r++) {
    after.push(measure(fnAfter, ms));
    before.push(measure(fnBefore, ms));
  }
  const a = median(after);
  const b = median(before);
  rows.push([c.name, b.toFixed(0), a.toFixed(0), (a / b).toFixed(2)]);
}
console.log(`${rounds} alternating rounds of ${ms} ms per side; CPU ns per call, median of rounds`);
printTable(["case", "before (ns)", "after (ns)", "after / before"], rows);
