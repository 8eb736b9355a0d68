import { assert, assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import {
  allocateAddress,
  cidrsOverlap,
  hostCount,
  hostIndex,
  parseCidr,
  pickSlice,
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

Deno.test("parseCidr() says an IPv6 block is not supported yet, and that every net has an IPv6 /64", () => {
  assertThrows(
    () => parseCidr("fd00::/64"),
    MembershipError,
    "IPv6-only nets are not supported yet",
  );
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
  assertThrows(
    () => allocateAddress(cidr, "x", new Set([a, b])),
    MembershipError,
    "No free address",
  );
});

Deno.test("allocateAddress() avoids addresses of former members while others are free", () => {
  const cidr = parseCidr("10.9.0.0/24");
  const first = allocateAddress(cidr, "k", new Set());
  assert(allocateAddress(cidr, "k", new Set(), { avoid: new Set([first]) }) !== first);
});

Deno.test("allocateAddress() stays inside an admin's slice, and the founder outside every slice", () => {
  const cidr = parseCidr("10.9.0.0/24");
  const slice = parseCidr("10.9.0.64/26");
  for (const key of ["a", "b", "c", "d", "e"]) {
    const inSlice = allocateAddress(cidr, key, new Set(), { within: slice });
    const v = hostIndex(cidr, inSlice)! + 1;
    assert(v >= 64 && v < 128, inSlice);
    const founder = allocateAddress(cidr, key, new Set(), { exclude: [slice] });
    const w = hostIndex(cidr, founder)! + 1;
    assert(w < 64 || w >= 128, founder);
  }
  // The slice's own first and last addresses are hosts of the net: usable.
  const taken = new Set<string>();
  for (let i = 0; i < 64; i++) taken.add(allocateAddress(cidr, "k", taken, { within: slice }));
  assertEquals(taken.size, 64);
  assertThrows(
    () => allocateAddress(cidr, "k", taken, { within: slice }),
    MembershipError,
    "slice",
  );
});

Deno.test("pickSlice() takes a free aligned block, preferring one no member holds", () => {
  const cidr = parseCidr("10.9.0.0/16");
  const first = pickSlice(cidr, 20, [], ["10.9.0.1"]);
  assertEquals(first.text, "10.9.16.0/20");
  const second = pickSlice(cidr, 20, [first], ["10.9.0.1"]);
  assertEquals(second.text, "10.9.32.0/20");
  assertThrows(() => pickSlice(cidr, 16, [], []), MembershipError, "Invalid slice size");
  const all = Array.from({ length: 16 }, (_, i) => parseCidr(`10.9.${i * 16}.0/20`));
  assertThrows(() => pickSlice(cidr, 20, all, []), MembershipError, "No free /20 slice");
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
