import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import {
  type GridHome,
  hashText,
  homeAt,
  lookup,
  readConfig,
  type SymbolEntry,
  writeConfig,
} from "../kernel/mod.ts";
import { commitSymbols, withEntry } from "../modules/exec/mod.ts";
import { BUILTINS } from "../builtins/mod.ts";
import { type GridNode, openNode } from "./node.ts";
import { findSymbol, type FoundSymbol } from "./lookup.ts";

async function withHome(fn: (home: GridHome) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-lookup-" });
  try {
    await fn(homeAt(`${dir}/home`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The parts of an entry both lookups give, comparable. */
function parts(e: SymbolEntry | FoundSymbol["entry"]) {
  return [e.module.bytes.toHex(), e.promise.bytes.toHex(), e.promiseText, e.kind];
}

const open = (home: GridHome): Promise<GridNode> => openNode({ builtins: BUILTINS, home });

Deno.test("findSymbol() finds what openNode's table gives every name, without the kernel", async (t) => {
  await withHome(async (home) => {
    assertEquals(await findSymbol(home, "status", BUILTINS), undefined, "no config yet");
    let node = await open(home);
    for (const command of await BUILTINS.commands()) {
      await t.step(command.name, async () => {
        const found = await findSymbol(home, command.name, BUILTINS);
        assert(found, "found");
        assertEquals(parts(found.entry), parts(lookup(node.symbols, command.name)));
        assertEquals(found.command, command);
      });
    }
    await t.step("a published module, with its grant", async () => {
      const tool: SymbolEntry = {
        module: hashText("tool bytes"),
        promise: hashText("tool promise"),
        promiseText: "tool promise",
        kind: "js",
        accepts: [hashText("tool promise"), hashText("another")],
        grant: [[hashText("p"), hashText("m"), "arg"]],
      };
      await commitSymbols(home, node.cas, withEntry(node.symbols, "tool", tool));
      node = await open(home);
      const found = await findSymbol(home, "tool", BUILTINS);
      assert(found, "found");
      assertEquals(parts(found.entry), parts(lookup(node.symbols, "tool")));
      assertEquals(found.command, undefined);
      assertEquals((await findSymbol(home, "status", BUILTINS))?.command?.name, "status");
    });
    await t.step("a name the table lacks", async () => {
      assertEquals(await findSymbol(home, "no-such-command", BUILTINS), undefined);
    });
  });
});

Deno.test("findSymbol() finds nothing where openNode would write, repair or fail", async (t) => {
  await withHome(async (home) => {
    await open(home);
    const config = await readConfig(home);
    await t.step("builtins that changed since the table was made", async () => {
      await writeConfig(home, { ...config, builtins: hashText("older builtins").toString() });
      assertEquals(await findSymbol(home, "status", BUILTINS), undefined);
      await open(home); // writes the table anew
      assert(await findSymbol(home, "status", BUILTINS), "found once openNode wrote it");
    });
    await t.step("a table gone from the store", async () => {
      const now = await readConfig(home);
      await Deno.remove(`${home.cache}/cas/${now.symbols}`);
      assertEquals(await findSymbol(home, "status", BUILTINS), undefined);
    });
    await t.step("a corrupt config", async () => {
      await Deno.writeTextFile(home.config, "{ not json");
      assertEquals(await findSymbol(home, "status", BUILTINS), undefined);
    });
  });
});
