import { assert, assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { updateHostsFile, withHostsBlock } from "./hosts_file.ts";

const BASE = "127.0.0.1 localhost\n::1 localhost\n";

Deno.test("withHostsBlock appends a block and keeps every other line", () => {
  const out = withHostsBlock(BASE, ["10.0.0.1 a.home.grid"]);
  assertEquals(out.startsWith(BASE), true);
  assertEquals(out.includes("# BEGIN grid\n"), true);
  assertEquals(out.endsWith("10.0.0.1 a.home.grid\n# END grid\n"), true);
});

Deno.test("withHostsBlock is idempotent and replaces the block where it is", () => {
  const once = withHostsBlock(BASE, ["10.0.0.1 a.home.grid"]);
  assertEquals(withHostsBlock(once, ["10.0.0.1 a.home.grid"]), once);
  const withTail = once + "192.168.1.1 router\n";
  const next = withHostsBlock(withTail, ["10.0.0.2 b.home.grid"]);
  assertEquals(next.includes("a.home.grid"), false);
  assertEquals(next.endsWith("10.0.0.2 b.home.grid\n# END grid\n192.168.1.1 router\n"), true);
  assertEquals(withHostsBlock(next, []), BASE + "192.168.1.1 router\n");
});

Deno.test("withHostsBlock: an empty file, a file with no final newline", () => {
  assertEquals(withHostsBlock("", []), "");
  const out = withHostsBlock("127.0.0.1 localhost", ["10.0.0.1 a.x.grid"]);
  assertEquals(out.split("\n")[0], "127.0.0.1 localhost");
  assertEquals(withHostsBlock(out, []), "127.0.0.1 localhost\n");
});

Deno.test("updateHostsFile writes only on a change and keeps the rest of the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/hosts`;
    await Deno.writeTextFile(path, BASE);
    assertEquals(await updateHostsFile(path, ["10.0.0.1 a.home.grid"]), true);
    assertEquals(await updateHostsFile(path, ["10.0.0.1 a.home.grid"]), false);
    assertEquals(await updateHostsFile(path, []), true);
    assertEquals(await Deno.readTextFile(path), BASE);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["hosts"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("withHostsBlock refuses marks that do not pair up, so no line of the operator's is taken", () => {
  const stray =
    "127.0.0.1 localhost\n# BEGIN grid\n192.168.1.9 printer.lan\n192.168.1.10 nas.lan\n";
  assertThrows(() => withHostsBlock(stray, ["10.0.0.1 a.home.grid"]), RangeError, "do not pair up");
  const twice = `${stray}# END grid\n# BEGIN grid\n# END grid\n`;
  assertThrows(() => withHostsBlock(twice, ["10.0.0.1 a.home.grid"]), RangeError);
  const backwards = "# END grid\n127.0.0.1 localhost\n# BEGIN grid\n";
  assertThrows(() => withHostsBlock(backwards, []), RangeError, "comes before");
});

Deno.test("updateHostsFile through a symlink rewrites the file it points at; the link stays", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/real-hosts`, "127.0.0.1 localhost\n");
    await Deno.symlink(`${dir}/real-hosts`, `${dir}/hosts`);
    assert(await updateHostsFile(`${dir}/hosts`, ["10.0.0.1 a.home.grid"]));
    assert((await Deno.lstat(`${dir}/hosts`)).isSymlink, "the link was replaced by a file");
    assert((await Deno.readTextFile(`${dir}/real-hosts`)).includes("10.0.0.1 a.home.grid"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
