import { assert, assertRejects } from "../_testing_assert.ts";
import { ConfigError } from "../errors.ts";
import { assertEquals } from "../_testing_assert.ts";
import {
  canonicalIpv6,
  checkReachableHost,
  isLinkLocalHost,
  isLocalOnlyHost,
  mappedIpv4,
} from "./reachable.ts";

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
      "[::ffff:127.0.0.1]",
      "::ffff:0.0.0.0",
      "[0:0::0]",
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

Deno.test("canonicalIpv6() writes an IPv6 literal one way, and nothing else", async (t) => {
  const rows: [string, string | undefined][] = [
    ["fd77::1", "fd77::1"],
    ["[FD77:0:0::1]", "fd77::1"],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["::ffff:127.0.0.1", "::ffff:7f00:1"],
    ["::", "::"],
    ["192.0.2.1", undefined],
    ["example.com", undefined],
    ["fe80::1%eth0", undefined],
    ["fd77::1::2", undefined],
    ["[fd77::1]:51820", undefined],
  ];
  for (const [text, want] of rows) {
    await t.step(`${text} -> ${want}`, () => assertEquals(canonicalIpv6(text), want));
  }
});

Deno.test("isLinkLocalHost() knows fe80::/10 however written, and nothing else", async (t) => {
  const rows: [string, boolean][] = [
    ["fe80::1", true],
    ["[FE80::1]", true],
    ["fe80:0000::abcd", true],
    ["febf::1", true],
    ["fec0::1", false],
    ["fd77::1", false],
    ["2001:db8::1", false],
    ["::1", false],
    ["169.254.1.1", false],
    ["fe80.example.com", false],
  ];
  for (const [host, want] of rows) {
    await t.step(`${host}: ${want}`, () => assertEquals(isLinkLocalHost(host), want));
  }
});

Deno.test("checkReachableHost() refuses the IPv6 forms of what it refuses for IPv4, and link-local", async (t) => {
  const rows: [string, string][] = [
    ["::1", "only means this machine"],
    ["[::1]", "only means this machine"],
    ["::", "only means this machine"],
    ["::ffff:127.0.0.1", "only means this machine"],
    ["[0:0:0:0:0:0:0:1]", "only means this machine"],
    ["fe80::1", "link-local"],
    ["[FE80::a:b]", "link-local"],
    ["fe80::1%eth0", "link-local"],
  ];
  for (const [host, want] of rows) {
    await t.step(`refuses ${host}`, async () => {
      await assertRejects(() => checkReachableHost(host, "Invalid --endpoint"), ConfigError, want);
    });
  }
  for (const host of ["fd77::1", "[2001:db8::1]", "2001:DB8::1"]) {
    await t.step(`accepts ${host}`, () => checkReachableHost(host, "x"));
  }
});

Deno.test("mappedIpv4() reads the IPv4 address inside an IPv4-mapped IPv6 address only", async (t) => {
  const rows: [string, string | undefined][] = [
    ["::ffff:7f00:1", "127.0.0.1"],
    ["::ffff:c0a8:4d05", "192.168.77.5"],
    ["::ffff:0:102", "0.0.1.2"],
    ["::1", undefined],
    ["fd77::1", undefined],
  ];
  for (const [input, want] of rows) {
    await t.step(input, () => assertEquals(mappedIpv4(input), want));
  }
});
