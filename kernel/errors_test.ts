import { assert, assertEquals } from "./_assert_test.ts";
import {
  CacheKeyError,
  CasError,
  CodecError,
  exitCodeForCode,
  exitCodeOf,
  GridError,
  HashError,
  NotFoundError,
  oneLine,
  rejectCodeOf,
  RejectedError,
  UsageError,
} from "./errors.ts";

Deno.test("each error class carries its stable code and name", async (t) => {
  const cases: [GridError, string, string][] = [
    [new CodecError("x"), "codec", "CodecError"],
    [new CacheKeyError("x"), "cache-key", "CacheKeyError"],
    [new CasError("x"), "cas", "CasError"],
    [new HashError("x"), "hash", "HashError"],
    [new NotFoundError("x"), "not-found", "NotFoundError"],
    [new UsageError("x"), "usage", "UsageError"],
    [new RejectedError("peer", "x"), "peer", "RejectedError"],
  ];
  for (const [err, code, name] of cases) {
    await t.step(name, () => {
      assertEquals(err.code, code);
      assertEquals(err.name, name);
      assert(err instanceof GridError);
      assertEquals(rejectCodeOf(err), code);
      assert(exitCodeOf(err) > 1, `${name} has its own exit code`);
    });
  }
});

Deno.test("exitCodeOf() never returns 0 for a failure, whatever the code", () => {
  assertEquals(exitCodeOf(new Error("plain")), 1);
  assertEquals(exitCodeOf("a string"), 1);
  // A reject code from the wire outside the closed set still fails the process.
  assertEquals(exitCodeOf(new RejectedError("internal" as never, "boom")), 1);
  assertEquals(exitCodeForCode("no-such-code"), 1);
  assertEquals(exitCodeForCode("usage"), 2);
  assertEquals(exitCodeForCode("__proto__"), 1);
});

Deno.test("rejectCodeOf() maps unexpected errors to internal", () => {
  assertEquals(rejectCodeOf(new TypeError("x")), "internal");
});

Deno.test("oneLine() gives one bounded line without a stack", () => {
  const err = new Error("first line\n    second line\n");
  assertEquals(oneLine(err), "first line second line");
  assertEquals(oneLine("x".repeat(10_000)).length, 500);
  assert(!oneLine(new Error("a")).includes(" at "));
});
