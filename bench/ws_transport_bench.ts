/**
 * The design card's WebSocket package against the platform's: npm:ws (what
 * grid's peer links use) beside Deno's own `WebSocket` client and
 * `Deno.upgradeWebSocket` server, doing the same echo on loopback in this
 * process, in alternating rounds: one 1 KiB message at a time, and 64 in
 * flight. Reports the median of the rounds as round trips per second and CPU
 * time per round trip (this process's user + system time). Then the memory
 * each costs in a process of its own (VmRSS after one echo, beside an empty
 * `deno run`), since loading npm:ws brings Deno's Node-compat layer.
 *
 * Usage: deno run -A bench/ws_transport_bench.ts [--rounds 7] [--ms 400]
 *
 * @module
 */
import { WebSocket as WsSocket, WebSocketServer } from "ws";
import process from "node:process";
import { parseArgs } from "node:util";
import { median, printTable } from "./_table.ts";

const PAYLOAD = new Uint8Array(1024).fill(7);
const WINDOW = 64;

/** One echo pair: `send` a message, `onEcho` called per echoed message. */
interface Pair {
  send(data: Uint8Array): void;
  onEcho(fn: () => void): void;
  close(): Promise<void>;
}

async function wsPair(): Promise<Pair> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((r) => server.once("listening", () => r()));
  server.on("connection", (s) => s.on("message", (d) => s.send(d as Uint8Array)));
  const port = (server.address() as { port: number }).port;
  const client = new WsSocket(`ws://127.0.0.1:${port}`);
  await new Promise<void>((r) => client.once("open", () => r()));
  let echo = () => {};
  client.on("message", () => echo());
  return {
    send: (d) => client.send(d),
    onEcho: (fn) => (echo = fn),
    close: async () => {
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function nativePair(): Promise<Pair> {
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}`);
  client.binaryType = "arraybuffer";
  await new Promise<void>((r) => (client.onopen = () => r()));
  let echo = () => {};
  client.onmessage = () => echo();
  return {
    send: (d) => client.send(d),
    onEcho: (fn) => (echo = fn),
    close: async () => {
      client.close();
      ac.abort();
      await server.finished;
    },
  };
}

/** Round trips for `ms` with `window` in flight: [round trips per s, CPU µs per round trip]. */
async function measure(pair: Pair, window: number, ms: number): Promise<[number, number]> {
  let done = 0;
  let sent = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    pair.onEcho(() => {
      done++;
      if (performance.now() - start < ms) {
        pair.send(PAYLOAD);
        sent++;
      } else if (done === sent) resolve();
    });
    for (let i = 0; i < window; i++, sent++) pair.send(PAYLOAD);
  });
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - start;
  return [(done / wall) * 1000, (cpu.user + cpu.system) / done];
}

/** VmRSS (MB) of a fresh process running `code` (an echo with one side, or nothing). */
async function rssOf(code: string): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    cwd: new URL("..", import.meta.url).pathname,
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

const RSS = `const s = await Deno.readTextFile("/proc/self/status");
console.log(Number(/VmRSS:\\s+(\\d+)/.exec(s)[1]) / 1024);`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rounds: { type: "string", default: "7" }, ms: { type: "string", default: "400" } },
  });
  const rounds = Number(values.rounds);
  const ms = Number(values.ms);
  const sides = { "npm:ws": await wsPair(), "Deno WebSocket": await nativePair() };
  const results = new Map<string, [number, number][]>();
  for (let r = 0; r < rounds; r++) {
    for (const window of [1, WINDOW]) {
      const order = r % 2 === 0 ? Object.entries(sides) : Object.entries(sides).reverse();
      for (const [name, pair] of order) {
        const key = `${name}|${window}`;
        results.set(key, [...(results.get(key) ?? []), await measure(pair, window, ms)]);
      }
    }
  }
  for (const pair of Object.values(sides)) await pair.close();
  const row = (name: string, window: number) => {
    const rs = results.get(`${name}|${window}`)!;
    return [median(rs.map((x) => x[0])), median(rs.map((x) => x[1]))];
  };
  const table: string[][] = [];
  for (const window of [1, WINDOW]) {
    const [wsRate, wsCpu] = row("npm:ws", window);
    const [nRate, nCpu] = row("Deno WebSocket", window);
    table.push([
      `1 KiB echo, ${window} in flight`,
      `${Math.round(wsRate)} / ${wsCpu.toFixed(1)}`,
      `${Math.round(nRate)} / ${nCpu.toFixed(1)}`,
      `${(nRate / wsRate).toFixed(2)}x / ${(nCpu / wsCpu).toFixed(2)}x`,
    ]);
  }
  const empty = await rssOf(RSS);
  const withWs = await rssOf(
    `const { WebSocketServer, WebSocket } = await import("ws");
const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((r) => server.once("listening", r));
server.on("connection", (s) => s.on("message", (d) => s.send(d)));
const c = new WebSocket("ws://127.0.0.1:" + server.address().port);
await new Promise((r) => c.once("open", r));
await new Promise((r) => { c.once("message", r); c.send(new Uint8Array(1024)); });
${RSS} Deno.exit(0);`,
  );
  const withNative = await rssOf(
    `const ac = new AbortController();
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, (req) => {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});
const c = new WebSocket("ws://127.0.0.1:" + server.addr.port);
await new Promise((r) => (c.onopen = r));
await new Promise((r) => { c.onmessage = r; c.send(new Uint8Array(1024)); });
${RSS} Deno.exit(0);`,
  );
  table.push([
    "RSS of a process with one echo (empty deno run: " + empty.toFixed(1) + " MB)",
    `${withWs.toFixed(1)} MB`,
    `${withNative.toFixed(1)} MB`,
    `${(withNative - empty).toFixed(1)} vs ${(withWs - empty).toFixed(1)} MB over empty`,
  ]);
  printTable(
    [
      `measure (median of ${rounds} rounds)`,
      "npm:ws: round trips/s / CPU µs each",
      "Deno WebSocket: round trips/s / CPU µs each",
      "Deno / npm:ws",
    ],
    table,
  );
}
