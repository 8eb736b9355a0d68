import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { CAS_MODULE, ExecError, GET_PROMISE, hashToText, PUT_PROMISE } from "../../kernel/mod.ts";
import { WorkerExecutor } from "./worker_executor.ts";
import { testHost, testRequest, text, utf8 } from "./_testing_exec.ts";

const executor = new WorkerExecutor();

// Runaway modules in these tests end by themselves: Deno 2.9's
// worker.terminate() does not stop a worker busy in a loop
// (denoland/deno#35657), so an endless one would burn a core until the
// test process exits.
const SPIN_3S = `const end = Date.now() + 3000; while (Date.now() < end) {}`;

Deno.test("a JS module writes output, reads its args and returns its exit code", async () => {
  const host = testHost();
  const src = `export async function main(grid) {
    grid.write("hello " + grid.args.join(",") + "\\n");
    return 3;
  }`;
  const result = await executor.run(testRequest(host, utf8(src), { args: ["a", "b"] }));
  assertEquals(result.code, 3);
  assertEquals(text(result.stdout), "hello a,b\n");
});

Deno.test("modules are JavaScript: TypeScript syntax fails to load, with the error on stderr", async () => {
  const host = testHost();
  const src = `const n: number = 7; export function main(grid) { grid.write(String(n)); }`;
  const result = await executor.run(testRequest(host, utf8(src), { name: "typed" }));
  assertEquals(result.code, 1);
  assertEquals(result.stdout.length, 0);
  assert(result.stderr.startsWith("typed: "), result.stderr);
});

Deno.test("the sandbox refuses files, sockets, processes and the environment with NotCapable", async () => {
  const host = testHost();
  const before = { tree: host.kernel.tree.size, store: (await host.cas.list()).length };
  const src = `export async function main(grid) {
    const tries = {
      read: () => Deno.readTextFile("/etc/hostname"),
      write: () => Deno.writeTextFile("/tmp/grid-sandbox-escape", "x"),
      socket: () => Deno.connect({ hostname: "127.0.0.1", port: 9 }),
      listen: () => Deno.listen({ port: 0 }),
      fetch: () => fetch("http://127.0.0.1:7340/"),
      websocket: () => new WebSocket("ws://127.0.0.1:7340/"),
      spawn: () => new Deno.Command("true").output(),
      env: () => Deno.env.get("HOME"),
    };
    for (const [what, f] of Object.entries(tries)) {
      try { await f(); grid.write(what + "=allowed\\n"); }
      catch (e) { grid.write(what + "=" + e.name + (e instanceof Deno.errors.NotCapable ? "" : "?") + "\\n"); }
    }
  }`;
  const result = await executor.run(testRequest(host, utf8(src)));
  assertEquals(
    text(result.stdout),
    "read=NotCapable\nwrite=NotCapable\nsocket=NotCapable\nlisten=NotCapable\nfetch=NotCapable\nwebsocket=NotCapable\nspawn=NotCapable\nenv=NotCapable\n",
  );
  assertEquals(host.kernel.tree.size, before.tree);
  assertEquals((await host.cas.list()).length, before.store);
});

Deno.test("an uncaught NotCapable ends the module with exit 1 and says why", async () => {
  const host = testHost();
  const result = await executor.run(
    testRequest(host, utf8(`await Deno.readFile("/etc/passwd");`), { name: "reader" }),
  );
  assertEquals(result.code, 1);
  assert(result.stderr.includes("NotCapable"), result.stderr);
});

Deno.test("grid.call inside the grant is answered; outside it gets a reject promise", async () => {
  const host = testHost();
  const cid = await host.cas.put(utf8("kept content"));
  const src = `export async function main(grid) {
    const got = await grid.call([grid.promises.get, grid.modules.cas, grid.hash(${
    JSON.stringify(hashToText(cid))
  })]);
    grid.write((got[0]["/"] === grid.replies.accept["/"]) + ":" + new TextDecoder().decode(got[1]) + "\\n");
    const put = await grid.call([grid.promises.put, grid.modules.cas, new Uint8Array([1, 2, 3])]);
    grid.write((put[0]["/"] === grid.replies.reject["/"]) + ":" + put[1] + "\\n");
  }`;
  const result = await executor.run(
    testRequest(host, utf8(src), { grant: [[GET_PROMISE.cid, CAS_MODULE]] }),
  );
  assertEquals(text(result.stdout), "true:kept content\ntrue:denied\n");
  assertEquals(host.denied.length, 1);
  assert(PUT_PROMISE.cid.equals(host.denied[0][0]));
  assertEquals((await host.cas.list()).length, 1, "the refused put stored nothing");
});

Deno.test("grid.callBytes with garbage gets a codec reject, not a crash", async () => {
  const host = testHost();
  const src = `export async function main(grid) {
    const reply = await grid.callBytes(new Uint8Array([0xff, 0x00]));
    grid.write(String(reply instanceof Uint8Array && reply.length > 0));
  }`;
  const result = await executor.run(testRequest(host, utf8(src)));
  assertEquals(text(result.stdout), "true");
});

Deno.test("a run past its time limit is stopped with a clear error", async () => {
  const host = testHost();
  const started = performance.now();
  await assertRejects(
    () => executor.run(testRequest(host, utf8(SPIN_3S), { limits: { timeoutMs: 300 } })),
    ExecError,
    "time limit",
  );
  assert(performance.now() - started < 3000);
});

Deno.test("a module that writes too much is stopped at its output limit", async () => {
  const host = testHost();
  const src = `export function main(grid) {
    for (let i = 0; i < 1000; i++) grid.write("x".repeat(1024));
  }`;
  await assertRejects(
    () => executor.run(testRequest(host, utf8(src), { limits: { maxOutputBytes: 4096 } })),
    ExecError,
    "output limit",
  );
});

Deno.test("a module cannot send a message over the size limit", async () => {
  const host = testHost();
  const src = `export async function main(grid) {
    const r = await grid.call([grid.promises.put, grid.modules.cas, new Uint8Array(5000)]);
    grid.write(r[1] + ":" + r[2]);
  }`;
  const result = await executor.run(
    testRequest(host, utf8(src), {
      grant: [[PUT_PROMISE.cid]],
      limits: { maxMessageBytes: 1000 },
    }),
  );
  assert(text(result.stdout).startsWith("module:Message of"), text(result.stdout));
  assertEquals((await host.cas.list()).length, 0);
});

Deno.test("a run whose memory grows past its bound is stopped with a clear error", async () => {
  const host = testHost();
  const src = `export function main() {
    const keep = [];
    // Holds about 400 MB, then idles: bounded even if termination lags.
    for (let i = 0; i < 500; i++) keep.push(new Array(1e5).fill(Math.random()));
    return new Promise((resolve) => setTimeout(resolve, 60_000));
  }`;
  await assertRejects(
    () =>
      executor.run(
        testRequest(host, utf8(src), { limits: { maxMemoryBytes: 96 * 1024 * 1024 } }),
      ),
    ExecError,
    "grew memory",
  );
});

Deno.test("a module that exports no main(grid) fails with a clear line instead of exiting 0", async () => {
  const host = testHost();
  const src = `grid.write("top level ran\\n"); export const notMain = 1;`;
  const result = await executor.run(testRequest(host, utf8(src), { name: "nomain" }));
  assertEquals(result.code, 1);
  assertEquals(result.stderr.trim(), "nomain: the module exports no main(grid) function");
});
