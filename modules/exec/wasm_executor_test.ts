import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import {
  accept,
  CAS_MODULE,
  decodeMessage,
  decodeValue,
  encodeMessage,
  encodeValue,
  ExecError,
  GET_PROMISE,
  getMessage,
  isReject,
  PUT_PROMISE,
  putMessage,
  rejectReason,
} from "../../kernel/mod.ts";
import { WasmExecutor } from "./wasm_executor.ts";
import { buildWasm, callerModule, I32 } from "./wasm_builder.ts";
import { testHost, testRequest, text, utf8 } from "./_testing_exec.ts";

const executor = new WasmExecutor();

Deno.test("a wasm module writes output, calls the kernel inside its grant and reads its args", async () => {
  const host = testHost();
  const content = utf8("stored for wasm");
  const cid = await host.cas.put(content);
  const bytes = callerModule({
    greeting: "hello from wasm\n",
    messages: [encodeMessage(getMessage(cid)), encodeMessage(putMessage(utf8("sneaky")))],
    echoArgs: true,
    exitCode: 7,
  });
  const result = await executor.run(
    testRequest(host, bytes, {
      kind: "wasm",
      args: ["x", "y"],
      grant: [[GET_PROMISE.cid, CAS_MODULE]],
    }),
  );
  assertEquals(result.code, 7);
  const out = result.stdout;
  const greeting = utf8("hello from wasm\n");
  assertEquals(text(out.subarray(0, greeting.length)), "hello from wasm\n");
  const got = encodeMessage(accept(content));
  assertEquals([...out.subarray(greeting.length, greeting.length + got.length)], [...got]);
  const args = encodeValue(["x", "y"]);
  assertEquals(decodeValue(out.subarray(out.length - args.length)), ["x", "y"]);
  const denied = decodeMessage(
    out.subarray(greeting.length + got.length, out.length - args.length),
  );
  assert(isReject(denied));
  assertEquals(rejectReason(denied).code, "denied");
  assertEquals(host.denied.length, 1);
  assert(PUT_PROMISE.cid.equals(host.denied[0][0]));
  assertEquals((await host.cas.list()).length, 1, "the denied put stored nothing");
});

Deno.test("a wasm module importing anything but the grid interface does not start", async () => {
  const host = testHost();
  const bytes = buildWasm({
    imports: [{ module: "env", name: "open", type: { params: [], results: [I32] } }],
    funcs: [{ type: { params: [], results: [I32] }, body: [0x41, 0x00], export: "run" }],
  });
  const result = await executor.run(testRequest(host, bytes, { kind: "wasm" }));
  assertEquals(result.code, 1);
  assert(result.stderr.includes("Import"), result.stderr);
});

Deno.test("a wasm run past its time limit is stopped with a clear error", async () => {
  const host = testHost();
  await assertRejects(
    () =>
      executor.run(
        // Bounded (about 2 s): Deno 2.9's worker.terminate() does not stop a
        // busy worker (denoland/deno#35657), so an endless loop would outlive the test.
        testRequest(host, callerModule({ spin: 2_000_000_000 }), {
          kind: "wasm",
          limits: { timeoutMs: 300 },
        }),
      ),
    ExecError,
    "time limit",
  );
});

Deno.test("a host call pointing outside wasm memory traps the module, not the host", async () => {
  const host = testHost();
  const bytes = buildWasm({
    imports: [{ module: "grid", name: "write", type: { params: [I32, I32], results: [] } }],
    funcs: [{
      type: { params: [], results: [I32] },
      body: [0x41, 0x00, 0x41, ...[0x80, 0x80, 0x80, 0x08], 0x10, 0x00, 0x41, 0x00],
      export: "run",
    }],
  });
  const result = await executor.run(testRequest(host, bytes, { kind: "wasm" }));
  assertEquals(result.code, 1);
  assert(result.stderr.includes("outside"), result.stderr);
});
