import { assert, assertEquals, assertRejects, assertThrows } from "./_testing_assert.ts";
import {
  assertModuleBytes,
  ExecError,
  execute,
  type Executor,
  grantAllows,
  hostCall,
  OutputBuffer,
} from "./executor.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import { hashBytes, hashText } from "./hash.ts";
import { accept, isAccept, isReject, rejectReason } from "./promises.ts";
import type { Parms } from "./codec.ts";

const P = hashText("promise");
const M = hashText("module");
const OTHER = hashText("other");

Deno.test("grantAllows() matches whole leading parms, component by component", async (t) => {
  const grant = [[P, M, "foo"], [OTHER]];
  const rows: [string, Parms, boolean][] = [
    ["exact prefix", [P, M, "foo"], true],
    ["longer message", [P, M, "foo", "more"], true],
    ["other argument", [P, M, "bar"], false],
    ["too short", [P, M], false],
    ["second rule by promise alone", [OTHER, M, 1], true],
    ["string that spells a hash is not the hash", [P, M.toString(), "foo"], false],
    ["unknown promise", [hashText("x"), M, "foo"], false],
  ];
  for (const [name, parms, want] of rows) {
    await t.step(name, () => assertEquals(grantAllows(grant, parms), want));
  }
  assertEquals(grantAllows([], [P, M]), false);
});

Deno.test("hostCall() forwards granted messages and rejects the rest without calling", async () => {
  const calls: Parms[] = [];
  const options = {
    grant: [[P, M]],
    call: (parms: Parms) => {
      calls.push(parms);
      return Promise.resolve(accept("ok"));
    },
  };
  const ok = decodeMessage(await hostCall(encodeMessage([P, M, "x"]), options));
  assert(isAccept(ok));
  assertEquals(ok[1], "ok");
  const no = decodeMessage(await hostCall(encodeMessage([OTHER, M]), options));
  assert(isReject(no));
  assertEquals(rejectReason(no).code, "denied");
  const bad = decodeMessage(await hostCall(new Uint8Array([1, 2, 3]), options));
  assertEquals(rejectReason(bad).code, "codec");
  assertEquals(calls.length, 1);
});

Deno.test("hostCall() refuses an oversize request and an oversize reply", async () => {
  const options = {
    grant: [[P]],
    call: () => Promise.resolve(accept(new Uint8Array(2000))),
    maxMessageBytes: 1000,
  };
  const big = decodeMessage(await hostCall(encodeMessage([P, M, new Uint8Array(2000)]), options));
  assertEquals(rejectReason(big).code, "codec");
  const reply = decodeMessage(await hostCall(encodeMessage([P, M]), options));
  assertEquals(rejectReason(reply).code, "module");
});

Deno.test("execute() refuses bytes that do not match the hash before any executor runs", async () => {
  let ran = 0;
  const spy: Executor = {
    kind: "js",
    run: () => {
      ran++;
      return Promise.resolve({ code: 0, stdout: new Uint8Array(), stderr: "" });
    },
  };
  const good = new TextEncoder().encode("good");
  const module = hashBytes(good);
  const request = {
    module,
    bytes: new TextEncoder().encode("evil"),
    name: "m",
    entry: { module, promise: P, promiseText: "p", kind: "js" as const },
    args: [],
    host: () => Promise.resolve(new Uint8Array()),
  };
  const err = await assertRejects(() => execute([spy], request), ExecError, "do not match");
  assertEquals(err.code, "hash");
  assertEquals(ran, 0);
  await execute([spy], { ...request, bytes: good });
  assertEquals(ran, 1);
  await assertRejects(
    () => execute([], { ...request, bytes: good }),
    ExecError,
    "cannot run js modules",
  );
  assertThrows(() => assertModuleBytes("m", module, new Uint8Array()), ExecError);
});

Deno.test("OutputBuffer keeps bytes up to its limit and refuses past it", () => {
  const out = new OutputBuffer(4);
  assert(out.add(new Uint8Array([1, 2, 3])));
  assert(!out.add(new Uint8Array([4, 5])));
  assert(out.add(new Uint8Array([4])));
  assertEquals([...out.bytes()], [1, 2, 3, 4]);
});
