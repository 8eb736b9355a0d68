import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { JOIN_PROMISE_TEXT } from "../modules/mesh/mod.ts";
import { BUILTIN_FILES, loadBuiltins, loadSources } from "./_registry.ts";

Deno.test("join-wireguard-net makes the promise the mesh checks joiners against", async () => {
  const join = (await loadSources()).find((s) => s.command.name === "join-wireguard-net");
  assertEquals(join?.command.promise, JOIN_PROMISE_TEXT);
});

Deno.test("each builtin file holds the command named after it, with that file's bytes", async () => {
  const sources = await loadSources();
  assertEquals(sources.length, BUILTIN_FILES.length);
  for (const { command, file, bytes } of sources) {
    assertEquals(file, `${command.name.replaceAll("-", "_")}.ts`);
    assertEquals(bytes, await Deno.readFile(new URL(file, import.meta.url)));
  }
  assertEquals(new Set(sources.map((s) => s.command.name)).size, sources.length, "names differ");
});

Deno.test("loadBuiltins() hashes what loadSources() read, once per process", async () => {
  const [first, second] = await Promise.all([loadBuiltins(), loadBuiltins()]);
  assert(first === second, "one load");
  const sources = await loadSources();
  for (const [i, b] of first.entries()) {
    assertEquals(b.command, sources[i].command);
    assertEquals(b.file, sources[i].file);
  }
});
