import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import {
  Cas,
  getSymbols,
  hashText,
  homeAt,
  MemoryStorage,
  readConfig,
  type SymbolEntry,
  type SymbolTable,
  UsageError,
  writeConfig,
} from "../../kernel/mod.ts";
import { adoptEntries, commitSymbols, currentSymbols, withEntry } from "./symbol_edit.ts";

function entry(name: string, kind: SymbolEntry["kind"]): SymbolEntry {
  return { module: hashText(`m:${name}`), promise: hashText("p"), promiseText: "p", kind };
}

const LOCAL: SymbolTable = new Map([
  ["put", entry("put", "builtin")],
  ["mine", entry("mine", "js")],
]);
const OTHER: SymbolTable = new Map([
  ["put", entry("their-put", "builtin")],
  ["hello", entry("hello", "js")],
  ["mine", entry("theirs", "wasm")],
  ["get", entry("their-get", "builtin")],
]);

Deno.test("adoptEntries() takes non-builtin names and never touches builtins", async (t) => {
  await t.step("all names", () => {
    const { table, adopted, skipped } = adoptEntries(LOCAL, OTHER);
    assertEquals(adopted, ["hello", "mine"]);
    assertEquals(skipped.map((s) => s.name), ["get", "put"]);
    assertEquals(table.get("put"), LOCAL.get("put"));
    assertEquals(table.get("mine"), OTHER.get("mine"));
    assertEquals(table.has("get"), false);
  });
  await t.step("only the names asked for", () => {
    const { adopted, skipped } = adoptEntries(LOCAL, OTHER, ["hello", "nope"]);
    assertEquals(adopted, ["hello"]);
    assertEquals(skipped, [{ name: "nope", why: "not in that table" }]);
  });
  await t.step("the local table is not changed in place", () => {
    assertEquals(LOCAL.size, 2);
  });
});

Deno.test("withEntry() refuses a builtin's name", () => {
  assertThrows(() => withEntry(LOCAL, "put", entry("x", "js")), UsageError, "builtin");
  assertEquals(withEntry(LOCAL, "new", entry("new", "js")).size, 3);
});

Deno.test("commitSymbols() writes a new table and keeps other config fields; the old table stays", async () => {
  const root = await Deno.makeTempDir({ prefix: "grid-symbols-" });
  try {
    const home = homeAt(root);
    const cas = new Cas(new MemoryStorage());
    const first = await commitSymbols(home, cas, LOCAL);
    await writeConfig(home, { ...(await readConfig(home)), builtins: "keep-me" });
    const second = await commitSymbols(home, cas, withEntry(LOCAL, "new", entry("new", "js")));
    const config = await readConfig(home);
    assertEquals(config.symbols, second.toString());
    assertEquals(config.builtins, "keep-me");
    assertEquals((await getSymbols(cas, first.toString())).size, 2);
    assertEquals((await currentSymbols(home, cas)).table.size, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
