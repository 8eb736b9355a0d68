/**
 * Modules-by-hash benchmark: cold start (fetch the module by hash from a
 * peer over a real authenticated WebSocket link, verify, start, run), warm
 * run (bytes already in the local store: verify, start, run) and the cost of
 * one host call from inside a running module, for a sandboxed JS module and
 * a WebAssembly module, against a builtin (an in-process module). Both nodes
 * run in this process, on loopback.
 *
 * Run: `deno run -A --unstable-worker-options bench/modules_bench.ts` (prints a markdown table).
 *
 * @module
 */
import {
  accept,
  Cas,
  casModule,
  type CID,
  encodeMessage,
  type Executor,
  generateIdentity,
  GET_PROMISE,
  getMessage,
  hashBytes,
  hashText,
  hashToText,
  isAccept,
  Kernel,
  MemoryStorage,
  type Parms,
  PUT_PROMISE,
  rejectReason,
  type SymbolEntry,
} from "../kernel/mod.ts";
import { callerModule, installModule, WasmExecutor, WorkerExecutor } from "../modules/exec/mod.ts";
import { median, printTable } from "./_table.ts";
import {
  LookupLedger,
  peerBlobModule,
  PeerHub,
  peerProxyModule,
  RANGE_PROMISE,
} from "../kernel/peers/mod.ts";

const COLD_RUNS = 15;
const WARM_RUNS = 30;
const HOST_CALLS = 200;
const PROMISE_TEXT = "bench: I ask this module to run once";
const PROMISE = hashText(PROMISE_TEXT);
const executors: Executor[] = [new WorkerExecutor(), new WasmExecutor()];

interface Nodes {
  publisher: Cas;
  runner: Kernel;
  runnerCas: Cas;
  close(): Promise<void>;
}

async function nodes(): Promise<Nodes> {
  const publisher = new Cas(new MemoryStorage());
  const pKernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE, RANGE_PROMISE] });
  pKernel.register(casModule(publisher));
  pKernel.register(peerBlobModule({ ledger: new LookupLedger() }));
  const pHub = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms, ctx) => pKernel.call(parms, ctx),
  });
  const runnerCas = new Cas(new MemoryStorage());
  const runner = new Kernel({
    promises: [GET_PROMISE, PUT_PROMISE, RANGE_PROMISE, { text: PROMISE_TEXT, cid: PROMISE }],
  });
  runner.register(casModule(runnerCas));
  const ledger = new LookupLedger();
  runner.register(peerBlobModule({ ledger }));
  const rHub = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms, ctx) => runner.call(parms, ctx),
  });
  runner.register(peerProxyModule({ kernel: runner, peers: rHub, ledger }));
  const at = await pHub.listen("127.0.0.1", 0);
  rHub.dial(at.url);
  while (rHub.connected().length === 0) await new Promise((r) => setTimeout(r, 5));
  return {
    publisher,
    runner,
    runnerCas,
    close: async () => {
      await rHub.close();
      await pHub.close();
    },
  };
}

function entryFor(bytes: Uint8Array, kind: "js" | "wasm"): SymbolEntry {
  return {
    module: hashBytes(bytes),
    promise: PROMISE,
    promiseText: PROMISE_TEXT,
    kind,
    grant: [[GET_PROMISE.cid]],
  };
}

async function runOnce(kernel: Kernel, module: CID): Promise<number> {
  const start = performance.now();
  const reply = await kernel.call([PROMISE, module] as Parms);
  const ms = performance.now() - start;
  if (!isAccept(reply) || reply[1] !== 0) {
    throw new Error(
      `run failed: ${JSON.stringify(isAccept(reply) ? reply[3] : rejectReason(reply))}`,
    );
  }
  return ms;
}

function jsSource(nonce: number, calls: number, target: string): Uint8Array {
  return new TextEncoder().encode(`// ${nonce}
export async function main(grid) {
  for (let i = 0; i < ${calls}; i++) await grid.call([grid.promises.get, grid.modules.cas, grid.hash("${target}")]);
  grid.write("ok");
  return 0;
}
`);
}

function wasmBytes(nonce: number, calls: number, target: CID): Uint8Array {
  const message = encodeMessage(getMessage(target));
  return callerModule({
    greeting: `ok ${nonce}`,
    messages: Array.from({ length: calls }, () => message),
  });
}

interface Row {
  what: string;
  cold: string;
  warm: string;
  hostCall: string;
}

async function measure(
  n: Nodes,
  kind: "js" | "wasm",
  build: (nonce: number, calls: number) => Uint8Array,
): Promise<Row> {
  const cold: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const bytes = build(1000 + i, 0); // a new hash each time: never cached on the runner
    await n.publisher.put(bytes);
    const entry = entryFor(bytes, kind);
    installModule(n.runner, `cold-${kind}-${i}`, entry, { executors });
    cold.push(await runOnce(n.runner, entry.module));
  }
  const base = build(1, 0);
  const many = build(2, HOST_CALLS);
  const warm: number[] = [];
  const warmMany: number[] = [];
  for (const [bytes, out] of [[base, warm], [many, warmMany]] as const) {
    await n.runnerCas.put(bytes);
    const entry = entryFor(bytes, kind);
    installModule(n.runner, `warm-${kind}-${bytes.length}`, entry, { executors });
    for (let i = 0; i < 3; i++) await runOnce(n.runner, entry.module); // warm up
    for (let i = 0; i < WARM_RUNS; i++) out.push(await runOnce(n.runner, entry.module));
  }
  const perCall = (median(warmMany) - median(warm)) / HOST_CALLS;
  return {
    what: kind === "js" ? "sandboxed JS module (Worker)" : "WebAssembly module (Worker + JSPI)",
    cold: median(cold).toFixed(1),
    warm: median(warm).toFixed(2),
    hostCall: (perCall * 1000).toFixed(0),
  };
}

async function builtinRow(n: Nodes, target: CID): Promise<Row> {
  const id = hashText("bench/builtin");
  n.runner.register({
    id,
    name: "builtin",
    promise: PROMISE_TEXT,
    accept: () => accept(0, new TextEncoder().encode("ok"), ""),
  });
  for (let i = 0; i < 200; i++) await runOnce(n.runner, id);
  const warm: number[] = [];
  for (let i = 0; i < 2000; i++) warm.push(await runOnce(n.runner, id));
  const calls: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const start = performance.now();
    await n.runner.call(getMessage(target));
    calls.push(performance.now() - start);
  }
  return {
    what: "builtin (in-process module)",
    cold: "n/a (in the binary)",
    warm: median(warm).toFixed(3),
    hostCall: (median(calls) * 1000).toFixed(0),
  };
}

if (import.meta.main) {
  const n = await nodes();
  try {
    const target = await n.runnerCas.put(new TextEncoder().encode("a small blob to get"));
    const text = hashToText(target);
    const rows = [
      await builtinRow(n, target),
      await measure(n, "js", (nonce, calls) => jsSource(nonce, calls, text)),
      await measure(n, "wasm", (nonce, calls) => wasmBytes(nonce, calls, target)),
    ];
    printTable(
      [
        "module",
        `cold start: fetch from peer + verify + start + run (median of ${COLD_RUNS}, ms)`,
        `warm run: cached bytes (median of ${WARM_RUNS}, ms)`,
        "one host call / kernel call (µs)",
      ],
      rows.map((r) => [r.what, r.cold, r.warm, r.hostCall]),
    );
  } finally {
    await n.close();
  }
}
