import { assertEquals, assertRejects, assertThrows } from "./_testing_assert.ts";
import { Cas } from "./cas.ts";
import { encodeValue, type Parm } from "./codec.ts";
import { CodecError, HashError, NotFoundError } from "./errors.ts";
import { hashText, hashToText } from "./hash.ts";
import { MemoryStorage } from "./storage.ts";
import {
  decodeSymbols,
  encodeSymbols,
  getSymbols,
  isSymbolName,
  lookup,
  putSymbols,
  type SymbolEntry,
  type SymbolTable,
} from "./symbols.ts";

function entry(name: string, kind: SymbolEntry["kind"] = "builtin"): SymbolEntry {
  return {
    module: hashText(`module ${name}`),
    promise: hashText(`promise ${name}`),
    promiseText: `I promise ${name}`,
    kind,
  };
}

const TABLE: SymbolTable = new Map([
  ["put", entry("put")],
  ["join-wireguard-net", entry("join")],
  ["status.v2", entry("status", "js")],
  ["x_1", entry("x", "wasm")],
]);

function plain(table: SymbolTable): unknown {
  return [...table].map((
    [n, e],
  ) => [n, hashToText(e.module), hashToText(e.promise), e.promiseText, e.kind])
    .sort();
}

Deno.test("encodeSymbols() and decodeSymbols() round-trip a table", () => {
  assertEquals(plain(decodeSymbols(encodeSymbols(TABLE))), plain(TABLE));
  assertEquals(decodeSymbols(encodeSymbols(new Map())).size, 0);
});

Deno.test("encodeSymbols() is deterministic: insertion order does not change the hash", () => {
  const reversed: SymbolTable = new Map([...TABLE].reverse());
  assertEquals(encodeSymbols(reversed).toHex(), encodeSymbols(TABLE).toHex());
});

const good = { module: hashText("m"), promise: hashText("p"), promiseText: "t", kind: "builtin" };

const MALFORMED: [string, Parm][] = [
  ["not a map", [1, 2]],
  ["a plain string", "symbols/v1"],
  ["wrong format tag", { grid: "symbols/v0", names: {} }],
  ["no names", { grid: "symbols/v1" }],
  ["names not a map", { grid: "symbols/v1", names: "put" }],
  ["names an array", { grid: "symbols/v1", names: [good] }],
  ["entry not a map", { grid: "symbols/v1", names: { put: 1 } }],
  ["module missing", { grid: "symbols/v1", names: { put: { ...good, module: null } } }],
  ["module a string", {
    grid: "symbols/v1",
    names: { put: { ...good, module: hashToText(hashText("m")) } },
  }],
  ["module a CID look-alike", {
    grid: "symbols/v1",
    names: { put: { ...good, module: { "/": "a", bytes: "a", version: 1, code: 85 } } },
  }],
  ["promise missing", { grid: "symbols/v1", names: { put: { ...good, promise: null } } }],
  ["promise text not a string", {
    grid: "symbols/v1",
    names: { put: { ...good, promiseText: 7 } },
  }],
  ["unknown kind", { grid: "symbols/v1", names: { put: { ...good, kind: "shell" } } }],
  ["upper-case name", { grid: "symbols/v1", names: { Put: good } }],
  ["path-like name", { grid: "symbols/v1", names: { "../put": good } }],
  ["name too long", { grid: "symbols/v1", names: { ["a".repeat(65)]: good } }],
  ["empty name", { grid: "symbols/v1", names: { "": good } }],
];

Deno.test("decodeSymbols() rejects malformed tables with a CodecError", async (t) => {
  for (const [name, value] of MALFORMED) {
    await t.step(name, () => {
      assertThrows(() => decodeSymbols(encodeValue(value)), CodecError);
    });
  }
  await t.step("garbage bytes", () => {
    assertThrows(() => decodeSymbols(new Uint8Array([0xff, 0x00])), CodecError);
    assertThrows(() => decodeSymbols(new Uint8Array()), CodecError);
  });
});

Deno.test("isSymbolName() accepts lowercase names with . _ - only", () => {
  for (const name of ["put", "join-wireguard-net", "a.b_c", "0x", "a".repeat(64)]) {
    assertEquals(isSymbolName(name), true, name);
  }
  for (const name of ["", "-x", ".x", "_x", "A", "a b", "a/b", "é", "a".repeat(65), "__proto__"]) {
    assertEquals(isSymbolName(name), false, name);
  }
});

Deno.test("putSymbols() stores the table in the CAS and getSymbols() reads it back by hash", async () => {
  const cas = new Cas(new MemoryStorage());
  const cid = await putSymbols(cas, TABLE);
  assertEquals(plain(await getSymbols(cas, hashToText(cid))), plain(TABLE));
  await assertRejects(() => getSymbols(cas, hashToText(hashText("absent"))), NotFoundError);
  await assertRejects(() => getSymbols(cas, "not-a-hash"), HashError);
});

Deno.test("lookup() names the unknown command in its error", () => {
  assertEquals(lookup(TABLE, "put").promiseText, "I promise put");
  assertThrows(() => lookup(TABLE, "nope"), NotFoundError, '"nope"');
});
