import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import {
  CacheKeyError,
  CasError,
  CodecError,
  GridError,
  HashError,
  NotFoundError,
  RejectedError,
  UsageError,
} from "../kernel/mod.ts";
import { WireGuardError } from "../modules/wireguard/mod.ts";
import { exitCodeForCode, exitCodeOf } from "./exit_codes.ts";
import { MembershipError } from "../modules/membership/mod.ts";

Deno.test("every error class of the kernel and the modules has its own exit code", async (t) => {
  const cases: [GridError, number][] = [
    [new UsageError("x"), 2],
    [new NotFoundError("x"), 3],
    [new CodecError("x"), 5],
    [new CacheKeyError("x"), 5],
    [new HashError("x"), 5],
    [new CasError("x"), 6],
    [new RejectedError("peer", "x"), 8],
    [new WireGuardError("x"), 10],
    [new MembershipError("x"), 11],
  ];
  for (const [err, code] of cases) {
    await t.step(err.name, () => assertEquals(exitCodeOf(err), code));
  }
});

Deno.test("exitCodeOf() never returns 0 for a failure, whatever the code", () => {
  assertEquals(exitCodeOf(new Error("plain")), 1);
  assertEquals(exitCodeOf("a string"), 1);
  // A reject code from the wire outside the known set still fails the process.
  assertEquals(exitCodeOf(new RejectedError("internal", "boom")), 1);
  assertEquals(exitCodeForCode("no-such-code"), 1);
  assertEquals(exitCodeForCode("usage"), 2);
  assertEquals(exitCodeForCode("__proto__"), 1);
  assert(exitCodeForCode("membership") > 1);
});
