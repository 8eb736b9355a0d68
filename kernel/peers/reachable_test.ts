import { assert, assertRejects } from "../_testing_assert.ts";
import { ConfigError } from "../errors.ts";
import { checkReachableHost, isLocalOnlyHost } from "./reachable.ts";

Deno.test("isLocalOnlyHost() knows loopback and unspecified addresses however written", () => {
  for (
    const h of [
      "localhost",
      "LOCALHOST.",
      "a.localhost",
      "127.0.0.1",
      "127.0.1.1",
      "0.0.0.0",
      "::1",
      "[::1]",
      "::",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert(isLocalOnlyHost(h), h);
  }
  for (const h of ["192.0.2.1", "10.0.0.1", "2001:db8::1", "example.com", "127.example.com"]) {
    assert(!isLocalOnlyHost(h), h);
  }
});

Deno.test("checkReachableHost() refuses loopback addresses, and names that resolve only to them", async () => {
  await assertRejects(
    () => checkReachableHost("127.0.0.1", "Invalid --advertise"),
    ConfigError,
    "only means this machine",
  );
  await assertRejects(
    () => checkReachableHost("localhost", "x"),
    ConfigError,
    "only means this machine",
  );
  await assertRejects(
    () => checkReachableHost("no-such-host.invalid", "x"),
    ConfigError,
    "does not resolve",
  );
  await checkReachableHost("192.0.2.7", "x"); // an address: fine without a lookup
});
