import { assert, assertEquals, assertRejects, assertThrows } from "./_testing_assert.ts";
import { GridError } from "./errors.ts";
import { ensureHome, type GridHome, homeAt, readConfig, resolveHome, writeConfig } from "./home.ts";

async function withHome(fn: (home: GridHome) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-home-" });
  try {
    await fn(homeAt(`${dir}/home`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function env(vars: Record<string, string>): { get(name: string): string | undefined } {
  return { get: (name) => vars[name] };
}

Deno.test("resolveHome() uses GRID_HOME, else HOME/.grid, else fails clearly", () => {
  const user = { uid: 1000, exists: () => false };
  assertEquals(resolveHome(env({ GRID_HOME: "/srv/g/", HOME: "/root" }), user).root, "/srv/g");
  assertEquals(resolveHome(env({ HOME: "/home/ann" }), user).config, "/home/ann/.grid/config");
  assertEquals(resolveHome(env({ GRID_HOME: "", HOME: "/h" }), user).root, "/h/.grid");
  const err = assertThrows(() => resolveHome(env({}), user), GridError, "GRID_HOME");
  assertEquals(err.code, "config");
});

Deno.test("ensureHome() creates the layout 0700 with a 0600 peers file, and is idempotent", async () => {
  await withHome(async (home) => {
    await ensureHome(home);
    await Deno.writeTextFile(home.peers, "ws://127.0.0.1:1\n");
    await ensureHome(home);
    for (const dir of [home.root, home.cache, home.state]) {
      assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700, dir);
    }
    assertEquals((await Deno.stat(home.peers)).mode! & 0o777, 0o600);
    assertEquals(
      await Deno.readTextFile(home.peers),
      "ws://127.0.0.1:1\n",
      "kept on the second run",
    );
  });
});

Deno.test("ensureHome() on a path it cannot create fails with a config error", async () => {
  await withHome(async (home) => {
    await Deno.mkdir(home.root.replace(/\/home$/, ""), { recursive: true });
    await Deno.writeTextFile(home.root, "a file, not a directory");
    const err = await assertRejects(() => ensureHome(home), GridError, home.root);
    assertEquals(err.code, "config");
  });
});

Deno.test("readConfig() of a missing file is an empty config", async () => {
  await withHome(async (home) => {
    assertEquals(await readConfig(home), {});
  });
});

Deno.test("readConfig() of a corrupt config gives a clear config error", async (t) => {
  const cases: [string, string][] = [
    ["truncated JSON", '{"symbols": "bafk'],
    ["not JSON", "symbols = bafk"],
    ["a JSON array", "[]"],
    ["JSON null", "null"],
    ["a JSON string", '"x"'],
    ["empty file", ""],
    ["a symbols field that is not a string", '{"symbols": 5}'],
  ];
  for (const [name, text] of cases) {
    await t.step(name, async () => {
      await withHome(async (home) => {
        await ensureHome(home);
        await Deno.writeTextFile(home.config, text);
        const err = await assertRejects(() => readConfig(home), GridError, "corrupt");
        assertEquals(err.code, "config");
        assert(err.message.includes(home.config), err.message);
        assert(!err.message.includes("\n"), "one line");
      });
    });
  }
});

Deno.test("writeConfig() writes atomically with mode 0600 and keeps unknown fields", async () => {
  await withHome(async (home) => {
    await ensureHome(home);
    await Deno.writeTextFile(home.config, "{}", { mode: 0o644 });
    await Deno.chmod(home.config, 0o644);
    const config = { symbols: "bafkabc", builtins: "bafkdef", extra: { kept: [1, 2] } };
    await writeConfig(home, config);
    assertEquals(await readConfig(home), config);
    assertEquals((await Deno.stat(home.config)).mode! & 0o777, 0o600);
    const names: string[] = [];
    for await (const e of Deno.readDir(home.root)) names.push(e.name);
    assert(!names.some((n) => n.startsWith(".tmp-")), names.join(" "));
  });
});

Deno.test("resolveHome() gives root the service's home, so the command line and the service agree", () => {
  const root = (dirs: string[]) => ({ uid: 0, exists: (p: string) => dirs.includes(p) });
  assertEquals(resolveHome(env({ HOME: "/root" }), root([])).root, "/var/lib/grid");
  assertEquals(resolveHome(env({ HOME: "/root" }), root(["/var/lib/grid"])).root, "/var/lib/grid");
  // An older root install in ~/.grid keeps working while there is no system home.
  assertEquals(resolveHome(env({ HOME: "/root" }), root(["/root/.grid"])).root, "/root/.grid");
  assertEquals(
    resolveHome(env({ HOME: "/root" }), root(["/root/.grid", "/var/lib/grid"])).root,
    "/var/lib/grid",
  );
  assertEquals(resolveHome(env({ GRID_HOME: "/x" }), root([])).root, "/x");
});

Deno.test("ensureHome() refuses a home others may write to, or that is not the user's", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o777);
    const err = await assertRejects(() => ensureHome(homeAt(dir)), GridError, "writable by others");
    assertEquals(err.message.includes("chmod 700"), true);
    await Deno.chmod(dir, 0o700);
    await ensureHome(homeAt(dir));
    const link = `${dir}-link`;
    await Deno.symlink(dir, link);
    try {
      await assertRejects(() => ensureHome(homeAt(link)), GridError, "symbolic link");
    } finally {
      await Deno.remove(link);
    }
    if (Deno.uid() === 0) {
      await Deno.chown(dir, 65534, 65534);
      await assertRejects(() => ensureHome(homeAt(dir)), GridError, "belongs to user 65534");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
