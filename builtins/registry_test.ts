import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { JOIN_PROMISE_TEXT } from "../modules/mesh/mod.ts";
import { BUILTIN_FILES, loadBuiltins, loadCommands, loadFiles } from "./_registry.ts";

Deno.test("join-wireguard-net makes the promise the mesh checks joiners against", async () => {
  const join = (await loadCommands()).find((c) => c.name === "join-wireguard-net");
  assertEquals(join?.promise, JOIN_PROMISE_TEXT);
});

Deno.test("each builtin file holds the command named after it", async () => {
  const files = await loadFiles();
  assertEquals(files.length, BUILTIN_FILES.length);
  for (const file of files) {
    assertEquals((await file.command()).name, file.name, file.file);
    assertEquals(file.bytes, await Deno.readFile(new URL(file.file, import.meta.url)));
  }
  assertEquals(new Set(files.map((f) => f.name)).size, files.length, "names differ");
});

Deno.test("each builtin file spells out its command's name and promise (its bytes say them)", async () => {
  // agent/lookup.ts trusts a symbol table's builtin entry whose module is a file's hash: that
  // holds only while the name and the promise text are written in the file, not imported.
  for (const file of await loadFiles()) {
    const source = new TextDecoder().decode(file.bytes);
    const command = await file.command();
    assert(source.includes(`name: ${JSON.stringify(command.name)},`), `${file.file}: name`);
    assert(source.includes(JSON.stringify(command.promise)), `${file.file}: promise text`);
  }
});

Deno.test("loadBuiltins() hashes the files loadFiles() read, once per process", async () => {
  const [first, second] = await Promise.all([loadBuiltins(), loadBuiltins()]);
  assert(first === second, "one load");
  const files = await loadFiles();
  for (const [i, b] of first.entries()) {
    assertEquals(b.command, await files[i].command());
    assertEquals(b.file, files[i].file);
  }
});
