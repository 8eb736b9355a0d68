import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { boundedWhy, MAX_WHY_CHARS } from "./status.ts";

Deno.test("boundedWhy: a reason past the report's bound is cut, with a mark; shorter ones pass as they are", () => {
  const long = `no relay: ${"node2: This node does not relay (--no-relay); ".repeat(12)}`;
  assert(long.length > MAX_WHY_CHARS);
  const cut = boundedWhy({ path: "unreachable", via: null, why: long });
  assertEquals(cut.why!.length, MAX_WHY_CHARS);
  assert(cut.why!.endsWith("…"));
  assert(long.startsWith(cut.why!.slice(0, -1)));
  const short = { path: "relay" as const, via: "node4", why: "symmetric NAT" };
  assertEquals(boundedWhy(short), short);
  assertEquals(boundedWhy({ path: "direct", via: null, why: null }).why, null);
});
