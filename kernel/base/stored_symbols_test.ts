import { assert, assertEquals } from "../_testing_assert.ts";
import { Cas } from "../cas.ts";
import { FsStorage } from "../fs_storage.ts";
import { DAG_CBOR, hashBytes, hashText, hashToText } from "../hash.ts";
import { homeAt } from "../home.ts";
import { encodeSymbols, putSymbols, type SymbolTable } from "../symbols.ts";
import { readStoredSymbols, type StoredSymbol, symbolTableHash } from "./stored_symbols.ts";
import { CidBytes } from "./web_hash.ts";

const P = hashText("a promise");
const M = hashText("a module");

const BUILTINS: SymbolTable = new Map([
  ["status", { module: M, promise: P, promiseText: "I ask.", kind: "builtin" }],
  ["create-wireguard-net", { module: P, promise: M, promiseText: "I found.", kind: "builtin" }],
  ["put", { module: hashText("put"), promise: hashText("p"), promiseText: "p", kind: "builtin" }],
]);

function stored(table: SymbolTable): Map<string, StoredSymbol> {
  return new Map([...table].map(([name, e]) => [name, {
    module: new CidBytes(e.module.bytes),
    promise: new CidBytes(e.promise.bytes),
    promiseText: e.promiseText,
    kind: e.kind,
  }]));
}

async function withHome(fn: (home: ReturnType<typeof homeAt>, cas: Cas) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "grid-stored-symbols-" });
  try {
    const home = homeAt(dir);
    await fn(home, new Cas(new FsStorage(home.cache)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("symbolTableHash() is the hash putSymbols() stores a table under", async () => {
  const theirs = hashToText(hashBytes(encodeSymbols(BUILTINS), DAG_CBOR));
  assertEquals(await symbolTableHash(stored(BUILTINS)), theirs);
  assertEquals(
    await symbolTableHash(new Map()),
    hashToText(hashBytes(encodeSymbols(new Map()), DAG_CBOR)),
  );
});

Deno.test("readStoredSymbols() reads the table the CAS stored, modules with grants included", async () => {
  await withHome(async (home, cas) => {
    const table: SymbolTable = new Map([...BUILTINS, ["tool", {
      module: hashText("tool"),
      promise: hashText("tool promise"),
      promiseText: "tool promise",
      kind: "js",
      accepts: [hashText("tool promise"), P],
      grant: [[P, M, "arg"], [M]],
    }]]);
    const hash = hashToText(await putSymbols(cas, table));
    const read = await readStoredSymbols(home, hash);
    assert(read, "read");
    const rows = (
      t: Map<
        string,
        {
          module: { bytes: Uint8Array };
          promise: { bytes: Uint8Array };
          promiseText: string;
          kind: string;
        }
      >,
    ) =>
      [...t].map((
        [n, e],
      ) => [n, e.module.bytes.toHex(), e.promise.bytes.toHex(), e.promiseText, e.kind])
        .sort((a, b) => a[0] < b[0] ? -1 : 1);
    assertEquals(rows(read), rows(table));
  });
});

Deno.test("readStoredSymbols() finds nothing where the kernel would fail or repair", async (t) => {
  await withHome(async (home, cas) => {
    const hash = hashToText(await putSymbols(cas, BUILTINS));
    const path = `${home.cache}/cas/${hash}`;
    await t.step("a hash that is not a safe file name", async () => {
      assertEquals(await readStoredSymbols(home, "../config"), undefined);
      assertEquals(await readStoredSymbols(home, ""), undefined);
    });
    await t.step("a table not in the store", async () => {
      assertEquals(await readStoredSymbols(home, hashToText(hashText("elsewhere"))), undefined);
    });
    await t.step("a table whose bytes no longer match its hash", async () => {
      const bytes = await Deno.readFile(path);
      bytes[bytes.length - 1] ^= 1;
      await Deno.writeFile(path, bytes);
      assertEquals(await readStoredSymbols(home, hash), undefined);
    });
    await t.step("a value that is not a symbol table", async () => {
      const other = hashToText(await cas.put(encodeSymbols(BUILTINS).slice(0, 0), DAG_CBOR));
      assertEquals(await readStoredSymbols(home, other), undefined);
      const { encodeValue } = await import("../codec.ts");
      for (
        const value of [[1], { grid: "symbols/v2", names: {} }, { grid: "symbols/v1", names: [] }]
      ) {
        const h = hashToText(await cas.put(encodeValue(value), DAG_CBOR));
        assertEquals(await readStoredSymbols(home, h), undefined, JSON.stringify(value));
      }
      const badName = {
        grid: "symbols/v1",
        names: { "Bad Name": { module: M, promise: P, promiseText: "x", kind: "js" } },
      };
      const h = hashToText(await cas.put(encodeValue(badName), DAG_CBOR));
      assertEquals(await readStoredSymbols(home, h), undefined);
    });
  });
});
