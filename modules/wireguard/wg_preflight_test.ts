import { assert } from "../../kernel/_testing_assert.ts";
import { hasNetAdmin } from "./wg_preflight.ts";

Deno.test("hasNetAdmin() reads CAP_NET_ADMIN (bit 12) from the effective set", () => {
  assert(hasNetAdmin("Name:\tx\nCapEff:\t000001ffffffffff\n"), "root");
  assert(hasNetAdmin("CapEff:\t0000000000001000\n"), "only CAP_NET_ADMIN");
  assert(!hasNetAdmin("CapEff:\t0000000000000000\n"), "a plain user");
  assert(!hasNetAdmin("CapEff:\t000001ffffffefff\n"), "everything but CAP_NET_ADMIN");
  assert(!hasNetAdmin("no such line"), "unreadable");
});
