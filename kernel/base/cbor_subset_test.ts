import { assert, assertEquals, assertThrows } from "../_testing_assert.ts";
import {
  decodeMessage,
  decodeValue,
  encodeMessage,
  encodeValue,
  MAX_DEPTH,
  type Parm,
  type Parms,
} from "../codec.ts";
import { CodecError } from "../errors.ts";
import { CID, hashText } from "../hash.ts";
import { encodeSymbols, type SymbolTable } from "../symbols.ts";
import {
  decodeEnvelope,
  decodeSubset,
  encodeEnvelope,
  encodeSubset,
  type SubsetValue,
} from "./cbor_subset.ts";
import { CidBytes } from "./web_hash.ts";

const P = hashText("a promise");
const M = hashText("a module");

/** A codec value in the subset's form: CIDs as CidBytes. */
function toSubset(value: Parm): SubsetValue {
  if (value instanceof CID) return new CidBytes(value.bytes);
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(toSubset);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toSubset(v)]));
  }
  return value as SubsetValue; // the subset's tests only make subset values
}

/** Comparable plain data for either side's values. */
function plain(value: unknown): unknown {
  if (value instanceof CID) return { cid: value.bytes.toHex() };
  if (value instanceof CidBytes) return { cid: value.bytes.toHex() };
  if (value instanceof Uint8Array) return { hex: value.toHex() };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const long = (n: number) => "x".repeat(n);

/** What a command line sends: a promise, a module and text arguments. */
const REQUESTS: [string, Parms][] = [
  ["no arguments", [P, M]],
  ["short arguments", [P, M, "status", "--json"]],
  ["unicode", [P, M, "ünïcødé ✓ 🧭", "", "\u0000nul"]],
  ["arguments at the head-length edges", [P, M, long(23), long(24), long(255), long(256)]],
  ["a 70 000-byte argument", [P, M, long(70_000)]],
];

/** What an agent answers, and plain data the symbol table holds. */
const VALUES: [string, Parm][] = [
  ["integers at the head-length edges", [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1]],
  ["bytes", [new Uint8Array(), new Uint8Array([0, 255]), new Uint8Array(300).fill(7)]],
  ["booleans and null", [true, false, null]],
  ["maps sorted by key length, then bytes", { bb: 1, a: 2, ab: 3, "ü": 4, ccc: [], "": "e" }],
  ["nested maps and arrays with CIDs", { cid: P, list: [M, [P, { deep: M }]], none: {} }],
];

Deno.test("encodeEnvelope() writes a request exactly as encodeMessage() does", async (t) => {
  for (const [name, parms] of REQUESTS) {
    await t.step(name, () => {
      assertEquals(encodeEnvelope(parms.map(toSubset)).toHex(), encodeMessage(parms).toHex());
    });
  }
});

Deno.test("encodeSubset() writes plain data exactly as encodeValue() does", async (t) => {
  for (const [name, value] of VALUES) {
    await t.step(name, () => {
      assertEquals(encodeSubset(toSubset(value)).toHex(), encodeValue(value).toHex());
    });
  }
  await t.step("a symbol table", () => {
    const table: SymbolTable = new Map([
      ["status", { module: M, promise: P, promiseText: "I ask.", kind: "builtin" }],
      ["create-wireguard-net", { module: P, promise: M, promiseText: "I found.", kind: "builtin" }],
    ]);
    const names: Record<string, SubsetValue> = {};
    for (const [name, e] of table) {
      names[name] = {
        module: toSubset(e.module),
        promise: toSubset(e.promise),
        promiseText: e.promiseText,
        kind: e.kind,
      };
    }
    const mine = encodeSubset({ grid: "symbols/v1", names });
    assertEquals(mine.toHex(), encodeSymbols(table).toHex());
  });
});

Deno.test("encodeEnvelope() refuses a lone surrogate with the codec's words", () => {
  assertThrows(
    () => encodeEnvelope([new CidBytes(P.bytes), "\uD800"]),
    CodecError,
    "lone surrogate",
  );
  assertThrows(() => encodeSubset(-1), CodecError, "CBOR subset");
});

Deno.test("decodeEnvelope() reads every reply shape the agent sends", async (t) => {
  const replies: [string, Parms][] = [
    ["accept with a code", [P, 0]],
    ["accept with output and errors", [P, 1, new Uint8Array([104, 105]), "grid: warning"]],
    ["reject", [M, "usage", "Usage: grid status [NAME] [--json]"]],
    ["an output chunk", [P, M, new Uint8Array(70_000).fill(1)]],
    ...REQUESTS,
  ];
  for (const [name, parms] of replies) {
    await t.step(name, () => {
      const read = decodeEnvelope(encodeMessage(parms));
      assert(read, "read");
      assertEquals(plain(read), plain(parms));
    });
  }
});

Deno.test("decodeSubset() reads what it writes and what encodeValue() writes", async (t) => {
  for (const [name, value] of VALUES) {
    await t.step(name, () => {
      assertEquals(plain(decodeSubset(encodeValue(value))), plain(value));
    });
  }
});

Deno.test("decodeSubset() leaves to the codec everything outside the subset", async (t) => {
  const hex = (h: string) => Uint8Array.fromHex(h);
  const rows: [string, Uint8Array][] = [
    ["a negative integer", encodeValue(-1)],
    ["a float", encodeValue(1.5)],
    ["undefined", hex("f7")],
    ["a 64-bit integer", encodeValue(2 ** 40)],
    ["an indefinite-length array", hex("9f01ff")],
    ["a longer head than needed", hex("1801")],
    ["a repeated map key", hex("a2616101616102")],
    ["a map key that is not text", hex("a10101")],
    ["text that is not UTF-8", hex("62c328")],
    ["bytes left over", hex("0101")],
    ["a cut-short string", hex("6561")],
    ["a tag other than 42", hex("c11a00000000")],
    ["tag 42 without the leading zero", hex("d82a4401551220")],
    ["tag 42 around a malformed CID", hex("d82a450001551220")],
    ["a nested grid envelope", Uint8Array.from([0x81, ...encodeMessage([P])])],
    ["nesting past the limit", hex("81".repeat(MAX_DEPTH + 1) + "01")],
  ];
  for (const [name, bytes] of rows) {
    await t.step(name, () => assertEquals(decodeSubset(bytes), undefined));
  }
  await t.step("an envelope with a value outside the subset", () => {
    assertEquals(decodeEnvelope(encodeMessage([P, -5])), undefined);
    assertEquals(decodeEnvelope(encodeValue([P])), undefined); // no envelope tag
  });
});

Deno.test("decodeEnvelope() never disagrees with decodeMessage(), even on damaged bytes", () => {
  const rand = prng(20261201);
  const seeds: Parms[] = [
    ...REQUESTS.map(([, p]) => p).filter((p) => encodeMessage(p).length < 2000),
    [P, 0, new Uint8Array([1, 2, 3]), "err"],
    [M, "usage", "no"],
    [P, { a: [M, true, null], b: new Uint8Array(30) }],
  ];
  let read = 0;
  for (let i = 0; i < 4000; i++) {
    const bytes = encodeMessage(seeds[i % seeds.length]).slice();
    const flips = 1 + Math.floor(rand() * 3);
    for (let f = 0; f < flips; f++) {
      bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    }
    const mine = decodeEnvelope(bytes);
    let theirs: unknown;
    try {
      theirs = decodeMessage(bytes);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      assertEquals(mine, undefined, `read what the codec refuses: ${bytes.toHex()}`);
      continue;
    }
    if (mine !== undefined) {
      read++;
      assertEquals(plain(mine), plain(theirs), `disagrees on ${bytes.toHex()}`);
    }
  }
  assert(read > 100, `only ${read} damaged messages stayed readable`);
});

Deno.test("decodeSubset() never disagrees with decodeValue() on damaged symbol tables", () => {
  const rand = prng(7);
  const table: SymbolTable = new Map([
    ["status", { module: M, promise: P, promiseText: "I ask.", kind: "builtin" }],
    ["tool", {
      module: P,
      promise: M,
      promiseText: "I run.",
      kind: "js",
      accepts: [M, P],
      grant: [[P, M, "arg"]],
    }],
  ]);
  const good = encodeSymbols(table);
  assertEquals(plain(decodeSubset(good)), plain(decodeValue(good)));
  for (let i = 0; i < 3000; i++) {
    const bytes = good.slice();
    bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    const mine = decodeSubset(bytes);
    let theirs: unknown;
    try {
      theirs = decodeValue(bytes);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      assertEquals(mine, undefined, `read what the codec refuses: ${bytes.toHex()}`);
      continue;
    }
    if (mine !== undefined) assertEquals(plain(mine), plain(theirs), bytes.toHex());
  }
});
