import { assert, assertEquals } from "./_testing_assert.ts";
import {
  CacheKeyError,
  CasError,
  CodecError,
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
    });
  }
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
