import { assert, assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import {
  allocateAddress,
  candidateIndex,
  cidrsOverlap,
  hostCount,
  hostIndex,
  nextFreeAddress,
  parseCidr,
} from "./ipam.ts";
import { MembershipError } from "./errors.ts";

Deno.test("parseCidr() accepts network blocks and refuses the rest", async (t) => {
  const rows: [string, string | null][] = [
    ["10.77.0.0/16", "10.77.0.0/16"],
    ["192.168.4.0/24", "192.168.4.0/24"],
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["10.77.0.1/16", null],
    ["10.77.0.0/31", null],
    ["10.77.0.0/7", null],
    ["10.777.0.0/16", null],
    ["010.77.0.0/16", null],
    ["fd00::/64", null],
    ["", null],
  ];
  for (const [text, want] of rows) {
    await t.step(text || "(empty)", () => {
      if (want === null) assertThrows(() => parseCidr(text), MembershipError, "CIDR");
      else assertEquals(parseCidr(text).text, want);
    });
  }
});

Deno.test("allocateAddress() is deterministic per key and skips taken addresses", () => {
  const cidr = parseCidr("10.9.0.0/24");
  const first = allocateAddress(cidr, "key-a", new Set());
  assertEquals(allocateAddress(cidr, "key-a", new Set()), first);
  const second = allocateAddress(cidr, "key-a", new Set([first]));
  assert(second !== first);
  assertEquals(hostIndex(cidr, second), (hostIndex(cidr, first)! + 1) % hostCount(cidr));
});

Deno.test("allocateAddress() never hands out the network or broadcast address", () => {
  const cidr = parseCidr("10.9.0.0/30"); // two hosts: .1 and .2
  const a = allocateAddress(cidr, "x", new Set());
  const b = allocateAddress(cidr, "x", new Set([a]));
  assertEquals(new Set([a, b]), new Set(["10.9.0.1", "10.9.0.2"]));
  assertThrows(() => allocateAddress(cidr, "x", new Set([a, b])), MembershipError, "full");
});

Deno.test("allocateAddress() avoids addresses of former members while others are free", () => {
  const cidr = parseCidr("10.9.0.0/24");
  const first = allocateAddress(cidr, "k", new Set());
  assert(allocateAddress(cidr, "k", new Set(), { avoid: new Set([first]) }) !== first);
});

Deno.test("nextFreeAddress() moves past the claim, wrapping at the top", () => {
  const cidr = parseCidr("10.9.0.0/29"); // hosts .1 to .6
  assertEquals(nextFreeAddress(cidr, "10.9.0.6", "k", new Set(["10.9.0.6"])), "10.9.0.1");
  assertEquals(
    nextFreeAddress(cidr, "10.9.0.2", "k", new Set(["10.9.0.2", "10.9.0.3"])),
    "10.9.0.4",
  );
  const outside = nextFreeAddress(cidr, "192.168.0.1", "k", new Set());
  assertEquals(hostIndex(cidr, outside), candidateIndex(cidr, "k"));
});

Deno.test("cidrsOverlap() is true for nested or shared blocks and false for neighbours", async (t) => {
  const rows: [string, string, boolean][] = [
    ["10.99.0.0/24", "10.99.0.0/16", true],
    ["10.99.0.0/16", "10.99.200.0/24", true],
    ["10.99.0.0/24", "10.99.0.0/24", true],
    ["10.99.0.0/24", "10.99.1.0/24", false],
    ["10.98.0.0/16", "10.99.0.0/16", false],
  ];
  for (const [a, b, want] of rows) {
    await t.step(`${a} and ${b}`, () => {
      assertEquals(cidrsOverlap(parseCidr(a), parseCidr(b)), want);
      assertEquals(cidrsOverlap(parseCidr(b), parseCidr(a)), want);
    });
  }
});
