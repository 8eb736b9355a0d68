/**
 * Peer layer benchmark: request/reply round trips per second over one
 * authenticated grid link against a bare npm:ws echo of the same payloads,
 * and the time to fetch a 64 MiB blob by hash from a peer against one bare
 * ws message of 64 MiB. Both ends run in this process, on loopback.
 *
 * Run: `deno run -A bench/peers_bench.ts` (prints a markdown table).
 *
 * @module
 */
import { type RawData, WebSocket, WebSocketServer } from "ws";
import {
  accept,
  Cas,
  casModule,
  definePromise,
  generateIdentity,
  GET_PROMISE,
  getMessage,
  hashText,
  isAccept,
  Kernel,
  MemoryStorage,
  type Parms,
  PUT_PROMISE,
  verifyBytes,
} from "../kernel/mod.ts";
import {
  LookupLedger,
  peerBlobModule,
  PeerHub,
  peerProxyModule,
  RANGE_PROMISE,
} from "../kernel/peers/mod.ts";

const ECHO = definePromise({ text: "bench/echo/v1: I send this payload back unchanged." });
const ECHO_MODULE = hashText("bench/module/echo");
const BLOB_BYTES = 64 * 1024 * 1024;
const SIZES = [64, 1024, 16 * 1024, 256 * 1024];
const ROUNDS_MS = 1_500;
const WARM_MS = 300;

function kernelFor(cas: Cas): Kernel {
  const kernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE, RANGE_PROMISE, ECHO] });
  kernel.register(casModule(cas));
  kernel.register({
    id: ECHO_MODULE,
    name: "echo",
    promise: ECHO.text,
    accept: (parms: Parms) => accept(parms[3]),
  });
  return kernel;
}

async function pair(): Promise<{ a: PeerHub; b: PeerHub; bKernel: Kernel; bCas: Cas }> {
  const bCas = new Cas(new MemoryStorage());
  const bKernel = kernelFor(bCas);
  const ledger = new LookupLedger();
  bKernel.register(peerBlobModule({ ledger }));
  const b = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms, ctx) => bKernel.call(parms, ctx),
  });
  const a = new PeerHub({
    identity: await generateIdentity(),
    handler: () => Promise.resolve(accept()),
  });
  const at = await b.listen("127.0.0.1", 0);
  a.dial(at.url);
  while (a.connected().length === 0) await new Promise((r) => setTimeout(r, 5));
  return { a, b, bKernel, bCas };
}

async function bareEcho(): Promise<{ client: WebSocket; server: WebSocketServer }> {
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
      ws.send(bytes.length === 1 ? blob : bytes, { binary: true });
    });
  });
  const port = (server.address() as { port: number }).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`, {
    maxPayload: 2 * BLOB_BYTES,
    perMessageDeflate: false,
  });
  await new Promise((r) => client.once("open", r));
  return { client, server };
}

function bareRequest(client: WebSocket, bytes: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve) => {
    client.once("message", (data: RawData) => resolve(data as Uint8Array));
    client.send(bytes, { binary: true });
  });
}

async function rate(run: () => Promise<void>): Promise<number> {
  // Warm up for a fixed time, not a fixed count: 50 rounds left the first
  // (64 B) grid row partly measuring the JIT compiling the request path.
  const warm = performance.now();
  while (performance.now() - warm < WARM_MS) await run();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ROUNDS_MS) {
    await run();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function median(runs: number, fn: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await fn());
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)];
}

const blob = new Uint8Array(BLOB_BYTES);
for (let at = 0; at < blob.length; at += 65536) {
  crypto.getRandomValues(blob.subarray(at, at + 65536));
}

const loadBefore = Deno.loadavg().join(" ");
const { a, b, bCas } = await pair();
const { client, server } = await bareEcho();
const rows: string[] = [];
const bId = b.selfId;

for (const size of SIZES) {
  const payload = new Uint8Array(size).fill(7);
  const grid = await rate(async () => {
    const reply = await a.request(bId, [ECHO.cid, ECHO_MODULE, 0, payload]);
    if (!isAccept(reply)) throw new Error("echo failed");
  });
  const bare = await rate(async () => {
    await bareRequest(client, payload);
  });
  rows.push(
    `| round trips/s, ${size} B | ${grid.toFixed(0)} | ${bare.toFixed(0)} | ${
      (bare / grid).toFixed(2)
    }x |`,
  );
}

// Pipelined: 64 requests in flight at once over the one link.
const WINDOW = 64;
const piped = new Uint8Array(1024).fill(9);
const gridPiped = await rate(async () => {
  const replies = await Promise.all(
    Array.from({ length: WINDOW }, () => a.request(bId, [ECHO.cid, ECHO_MODULE, 0, piped])),
  );
  if (!replies.every(isAccept)) throw new Error("echo failed");
}) * WINDOW;
const barePiped = await rate(() =>
  new Promise<void>((resolve) => {
    let left = WINDOW;
    const onMessage = () => {
      if (--left === 0) {
        client.off("message", onMessage);
        resolve();
      }
    };
    client.on("message", onMessage);
    for (let i = 0; i < WINDOW; i++) client.send(piped, { binary: true });
  })
) * WINDOW;
rows.push(
  `| requests/s, 1024 B, ${WINDOW} in flight | ${gridPiped.toFixed(0)} | ${
    barePiped.toFixed(0)
  } | ${(barePiped / gridPiped).toFixed(2)}x |`,
);

const cid = await bCas.put(blob);
const fetchMs = await median(5, async () => {
  const aKernel = kernelFor(new Cas(new MemoryStorage()));
  aKernel.register(peerProxyModule({ kernel: aKernel, peers: a }));
  const start = performance.now();
  const reply = await aKernel.call(getMessage(cid));
  const ms = performance.now() - start;
  if (!isAccept(reply) || (reply[1] as Uint8Array).length !== BLOB_BYTES) {
    throw new Error("fetch failed");
  }
  return ms;
});
const bareMs = await median(5, async () => {
  const start = performance.now();
  const got = await bareRequest(client, new Uint8Array(1));
  if (got.length !== BLOB_BYTES) throw new Error("bare transfer failed");
  return performance.now() - start;
});
// Reference, not the aim: the same bare transfer plus the one sha2-256 check
// that grid cannot skip (every byte is verified before it is returned or kept).
const bareHashedMs = await median(5, async () => {
  const start = performance.now();
  const got = await bareRequest(client, new Uint8Array(1));
  if (!verifyBytes(cid, got)) throw new Error("bare transfer failed");
  return performance.now() - start;
});
const mib = BLOB_BYTES / 1024 / 1024;
const speed = (ms: number) => `${(mib / (ms / 1000)).toFixed(0)} (${ms.toFixed(0)})`;
rows.push(
  `| 64 MiB fetch, MiB/s (ms) | ${speed(fetchMs)} | ${speed(bareMs)} | ${
    (fetchMs / bareMs).toFixed(2)
  }x |`,
  `| 64 MiB, reference: bare ws + one sha2-256 | ${speed(fetchMs)} | ${speed(bareHashedMs)} | ${
    (fetchMs / bareHashedMs).toFixed(2)
  }x |`,
);

console.log(`load average before and after: ${loadBefore} / ${Deno.loadavg().join(" ")}`);
console.log("| measure | grid link | bare npm:ws | grid slower by |");
console.log("| --- | ---: | ---: | ---: |");
for (const row of rows) console.log(row);

client.close();
await new Promise((r) => server.close(r));
await a.close();
await b.close();
