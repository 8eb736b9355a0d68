/**
 * Peer layer benchmark: request/reply over one authenticated grid link
 * against a bare npm:ws echo of the same payloads, and a 64 MiB fetch by
 * hash from a peer against one bare ws message of 64 MiB (and that message
 * plus the one sha2-256 pass grid cannot skip). Both ends of every link run
 * in this process, on loopback, so each figure is the work of both ends.
 *
 * Made for busy machines: every measure is taken in short rounds that
 * alternate between the sides (grid, bare ws, and with `--base` the grid of
 * another commit), and reports the median of the rounds of each side both as
 * a wall rate and as CPU time per operation (this process's user + system
 * time, `process.cpuUsage()`, over the operations of that round). CPU time is
 * what other processes on the machine disturb least; the ratios compare sides
 * measured in the same run.
 *
 * Run:
 *   deno run -A bench/peers_bench.ts                  # this tree against bare ws
 *   deno run -A bench/peers_bench.ts --base b0b05b2   # and the link of another commit, in the same run
 *   options: --rounds N (default 5), --ms MS per side per round (default 400), --only NAME (a measure)
 *
 * With `--base REF` the other commit is checked out in a temporary git
 * worktree and its kernel is imported into this same process: its hubs talk
 * only to each other, and the rounds interleave it with this tree's.
 *
 * @module
 */
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { parseArgs } from "node:util";
import process from "node:process";
import * as here from "../kernel/mod.ts";
import * as herePeers from "../kernel/peers/mod.ts";
import { median, printTable } from "./_table.ts";

type KernelApi = typeof here;
type PeersApi = typeof herePeers;
type Parms = here.Parms;

const BLOB_BYTES = 64 * 1024 * 1024;
const WINDOW = 64;

/** One side's numbers for one round: operations done, wall ms, CPU µs. */
interface Sample {
  ops: number;
  wallMs: number;
  cpuUs: number;
}

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Runs `op` (which does `per` operations) over and over for `ms`, measuring wall and CPU time. */
async function timed(ms: number, per: number, op: () => Promise<void>): Promise<Sample> {
  let ops = 0;
  const cpu0 = cpuNow();
  const start = performance.now();
  while (performance.now() - start < ms) {
    await op();
    ops += per;
  }
  return { ops, wallMs: performance.now() - start, cpuUs: cpuNow() - cpu0 };
}

/** Runs `op` once, measuring wall and CPU time. */
async function once(op: () => Promise<void>): Promise<Sample> {
  const cpu0 = cpuNow();
  const start = performance.now();
  await op();
  return { ops: 1, wallMs: performance.now() - start, cpuUs: cpuNow() - cpu0 };
}

/**
 * The fetching side's store: keeps the array the kernel writes back as it
 * is. MemoryStorage copies every write (a test store guarding against a
 * caller that changes the array afterwards), which would add a 64 MiB copy
 * that is neither the link's work nor a real store's (FsStorage writes the
 * array out); both sides of a --base run use this same store.
 */
class KeepingStorage implements here.Storage {
  #files = new Map<string, Uint8Array>();
  read(path: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#files.get(path));
  }
  write(path: string, data: Uint8Array): Promise<void> {
    this.#files.set(path, data);
    return Promise.resolve();
  }
  remove(path: string): Promise<void> {
    this.#files.delete(path);
    return Promise.resolve();
  }
  list(): Promise<string[]> {
    return Promise.resolve([...this.#files.keys()]);
  }
}

/** A grid link (two hubs in this process) built from one tree's kernel. */
interface GridSide {
  name: string;
  echo(payload: Uint8Array): Promise<void>;
  fetch(): Promise<void>;
  close(): Promise<void>;
}

async function gridSide(name: string, k: KernelApi, p: PeersApi) {
  const ECHO = k.definePromise({ text: "bench/echo/v1: I send this payload back unchanged." });
  const ECHO_MODULE = k.hashText("bench/module/echo");
  const kernelFor = (cas: here.Cas) => {
    const kernel = new k.Kernel({
      promises: [k.GET_PROMISE, k.PUT_PROMISE, p.RANGE_PROMISE, ECHO],
    });
    kernel.register(k.casModule(cas));
    kernel.register({
      id: ECHO_MODULE,
      name: "echo",
      promise: ECHO.text,
      accept: (parms: Parms) => k.accept(parms[3]),
    });
    return kernel;
  };
  const bCas = new k.Cas(new k.MemoryStorage());
  const bKernel = kernelFor(bCas);
  bKernel.register(p.peerBlobModule({ ledger: new p.LookupLedger() }));
  const b = new p.PeerHub({
    identity: await k.generateIdentity(),
    handler: (parms, ctx) => bKernel.call(parms, ctx),
  });
  const a = new p.PeerHub({
    identity: await k.generateIdentity(),
    handler: () => Promise.resolve(k.accept()),
  });
  const at = await b.listen("127.0.0.1", 0);
  a.dial(at.url);
  while (a.connected().length === 0) await new Promise((r) => setTimeout(r, 5));
  // The blob goes into the store only for the fetch, so the round trips run on a small heap.
  let cid: here.CID | undefined;
  return {
    name,
    async echo(payload: Uint8Array) {
      const reply = await a.request(b.selfId, [ECHO.cid, ECHO_MODULE, 0, payload]);
      if (!k.isAccept(reply)) throw new Error(`${name}: echo failed`);
    },
    async fetch() {
      cid ??= await bCas.put(blob());
      // A fresh kernel each time: nothing cached, the whole blob crosses the link.
      const aKernel = kernelFor(new k.Cas(new KeepingStorage()));
      aKernel.register(p.peerProxyModule({ kernel: aKernel, peers: a }));
      const reply = await aKernel.call(k.getMessage(cid));
      if (!k.isAccept(reply) || (reply[1] as Uint8Array).length !== BLOB_BYTES) {
        throw new Error(`${name}: fetch failed`);
      }
    },
    async close() {
      await a.close();
      await b.close();
    },
  } satisfies GridSide;
}

/** A bare npm:ws echo: the same payloads with no grid in between. */
async function bareSide() {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    maxPayload: 2 * BLOB_BYTES,
    perMessageDeflate: false,
  });
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (ws: WebSocket) => {
    ws.on("message", (data: RawData) => {
      const bytes = data as Uint8Array;
      // A one-byte message asks for the 64 MiB blob; anything else is echoed.
      ws.send(bytes.length === 1 ? blob() : bytes, { binary: true });
    });
  });
  const port = (server.address() as { port: number }).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`, {
    maxPayload: 2 * BLOB_BYTES,
    perMessageDeflate: false,
  });
  await new Promise((r) => client.once("open", r));
  const exchange = (bytes: Uint8Array, count: number) =>
    new Promise<Uint8Array>((resolve) => {
      let left = count;
      const onMessage = (data: RawData) => {
        if (--left > 0) return;
        client.off("message", onMessage);
        resolve(data as Uint8Array);
      };
      client.on("message", onMessage);
      for (let i = 0; i < count; i++) client.send(bytes, { binary: true });
    });
  return {
    echo: (payload: Uint8Array, count = 1) => exchange(payload, count),
    async close() {
      client.close();
      await new Promise((r) => server.close(r));
    },
  };
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

const { values } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "5" },
    ms: { type: "string", default: "400" },
    only: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const MS = Number(values.ms);

let theBlob: Uint8Array | undefined;
/** The 64 MiB of random bytes the fetch moves, made when first asked for. */
function blob(): Uint8Array {
  if (!theBlob) {
    theBlob = new Uint8Array(BLOB_BYTES);
    for (let at = 0; at < theBlob.length; at += 65536) {
      crypto.getRandomValues(theBlob.subarray(at, at + 65536));
    }
  }
  return theBlob;
}

const base = values.base ? await loadBase(values.base) : undefined;
// The other commit's worktree goes whatever happens below (a failed measure included).
try {
  const grids: GridSide[] = [await gridSide("after", here, herePeers)];
  if (base) grids.push(await gridSide("before", base.k, base.p));
  const bare = await bareSide();

  let theCid: here.CID | undefined;
  const blobCid = () => theCid ??= here.hashBytes(blob());

  /** One measure: what one op of each side is. */
  interface Measure {
    name: string;
    unit: "op/s" | "ms";
    grid(side: GridSide): Promise<Sample>;
    bare(): Promise<Sample>;
    /** The bare side plus the one sha2-256 pass (fetch only). */
    bareHashed?(): Promise<Sample>;
  }

  const roundTrip = (size: number): Measure => {
    const payload = new Uint8Array(size).fill(7);
    return {
      name: `round trip, 1 in flight, ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`,
      unit: "op/s",
      grid: (side) => timed(MS, 1, () => side.echo(payload)),
      bare: () => timed(MS, 1, async () => void await bare.echo(payload)),
    };
  };

  const pipelined: Measure = (() => {
    const payload = new Uint8Array(1024).fill(9);
    return {
      name: `requests, ${WINDOW} in flight, 1 KiB`,
      unit: "op/s",
      grid: (side) =>
        timed(MS, WINDOW, async () => {
          await Promise.all(Array.from({ length: WINDOW }, () => side.echo(payload)));
        }),
      bare: () => timed(MS, WINDOW, async () => void await bare.echo(payload, WINDOW)),
    };
  })();

  const fetch64: Measure = {
    name: "64 MiB fetch by hash",
    unit: "ms",
    grid: (side) => once(() => side.fetch()),
    bare: () =>
      once(async () => {
        const got = await bare.echo(new Uint8Array(1));
        if (got.length !== BLOB_BYTES) throw new Error("bare transfer failed");
      }),
    bareHashed: () =>
      once(async () => {
        const got = await bare.echo(new Uint8Array(1));
        if (!here.verifyBytes(blobCid(), got)) throw new Error("bare transfer failed");
      }),
  };

  const measures = [
    roundTrip(64),
    roundTrip(1024),
    roundTrip(16 * 1024),
    roundTrip(256 * 1024),
    pipelined,
    fetch64,
  ].filter((m) => !values.only || m.name.includes(values.only));

  interface Result {
    /** Median wall figure: op/s, or ms per fetch. */
    wall: number;
    /** Median CPU µs per op (per fetch: CPU ms). */
    cpu: number;
  }

  const summarize = (samples: Sample[], unit: Measure["unit"]): Result => {
    const wall = samples.map((s) => unit === "op/s" ? s.ops / (s.wallMs / 1000) : s.wallMs);
    const cpu = samples.map((s) => unit === "op/s" ? s.cpuUs / s.ops : s.cpuUs / 1000 / s.ops);
    return { wall: median(wall), cpu: median(cpu) };
  };

  // Warm the whole process up first (the JIT, ws, the sockets), so the first
  // measure is not partly measuring it.
  {
    const payload = new Uint8Array(1024);
    for (const side of grids) await timed(1_000, 1, () => side.echo(payload));
    await timed(1_000, 1, async () => void await bare.echo(payload));
  }

  const loadBefore = Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  const results: { measure: Measure; sides: Map<string, Result> }[] = [];
  for (const measure of measures) {
    const runs = new Map<string, () => Promise<Sample>>();
    for (const side of grids) runs.set(`grid ${side.name}`, () => measure.grid(side));
    runs.set("bare ws", () => measure.bare());
    if (measure.bareHashed) runs.set("bare ws + sha2-256", () => measure.bareHashed!());
    // Warm every side up first (the JIT), then alternate the sides round by round,
    // each round in another order, so that a busy spell hits them all alike.
    for (const run of runs.values()) {
      await (measure.unit === "ms" ? run() : timed(300, 1, () => run().then(() => {})));
    }
    const samples = new Map<string, Sample[]>([...runs.keys()].map((k) => [k, []]));
    const order = [...runs.keys()];
    for (let round = 0; round < ROUNDS; round++) {
      const turn = round % 2 ? [...order].reverse() : order;
      for (const key of turn) samples.get(key)!.push(await runs.get(key)!());
    }
    const sides = new Map<string, Result>();
    for (const [key, s] of samples) sides.set(key, summarize(s, measure.unit));
    results.push({ measure, sides });
    console.error(`peers_bench: ${measure.name} done`);
  }
  const loadAfter = Deno.loadavg().map((l) => l.toFixed(1)).join(" ");

  const fmtWall = (m: Measure, r: Result | undefined) =>
    r === undefined ? "-" : m.unit === "op/s" ? r.wall.toFixed(0) : r.wall.toFixed(0);
  const fmtCpu = (m: Measure, r: Result | undefined) =>
    r === undefined ? "-" : m.unit === "op/s" ? r.cpu.toFixed(1) : r.cpu.toFixed(0);
  /** How many times slower `x` is than `ref` (wall: by rate or by time; CPU: by time). */
  const slower = (
    m: Measure,
    x: Result | undefined,
    ref: Result | undefined,
    by: "wall" | "cpu",
  ) => {
    if (!x || !ref) return "-";
    const ratio = by === "cpu"
      ? x.cpu / ref.cpu
      : m.unit === "op/s"
      ? ref.wall / x.wall
      : x.wall / ref.wall;
    return `${ratio.toFixed(2)}x`;
  };

  console.log(
    `load average before and after: ${loadBefore} / ${loadAfter}; ${ROUNDS} rounds of ${MS} ms per side`,
  );
  console.log(
    "Rates are operations per second (fetch: ms per 64 MiB fetch); CPU is µs per operation (fetch: CPU ms per fetch), both ends together.",
  );
  console.log("");
  const sideNames = [...grids.map((g) => `grid ${g.name}`), "bare ws"];
  printTable(
    ["measure", ...sideNames.flatMap((s) => [`${s} rate`, `${s} CPU`])],
    results.map(({ measure, sides }) => [
      measure.name,
      ...sideNames.flatMap((s) => [fmtWall(measure, sides.get(s)), fmtCpu(measure, sides.get(s))]),
    ]),
  );
  console.log("");
  const ratioHeader = ["measure", "after / bare (wall)", "after / bare (CPU)"];
  if (base) ratioHeader.push("before / bare (wall)", "before / bare (CPU)", "after / before (CPU)");
  const ratioRows = results.flatMap(({ measure, sides }) => {
    const row = (label: string, ref: Result | undefined) => {
      const out = [
        label,
        slower(measure, sides.get("grid after"), ref, "wall"),
        slower(measure, sides.get("grid after"), ref, "cpu"),
      ];
      if (base) {
        out.push(
          slower(measure, sides.get("grid before"), ref, "wall"),
          slower(measure, sides.get("grid before"), ref, "cpu"),
          slower(measure, sides.get("grid after"), sides.get("grid before"), "cpu"),
        );
      }
      return out;
    };
    const rows = [row(measure.name, sides.get("bare ws"))];
    const hashed = sides.get("bare ws + sha2-256");
    if (hashed) {
      rows.push(row(`${measure.name}, against bare ws + one sha2-256`, hashed));
      rows.push([
        `(bare ws + one sha2-256: ${fmtWall(measure, hashed)} ms, CPU ${
          fmtCpu(measure, hashed)
        } ms)`,
        ...ratioHeader.slice(1).map(() => ""),
      ]);
    }
    return rows;
  });
  printTable(ratioHeader, ratioRows);

  for (const side of grids) await side.close();
  await bare.close();
} finally {
  await base?.remove();
}
