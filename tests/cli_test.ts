/**
 * End-to-end tests of the command line: `deno run` of main.ts as a
 * subprocess, with exactly the permission flags of the `grid` task in
 * deno.json (the release binary's set), against a temporary GRID_HOME.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { BUILTINS } from "../builtins/mod.ts";
import { RELEASE_PERMISSIONS, RELEASE_V8_FLAGS } from "../scripts/compile.ts";

const ROOT = new URL("../", import.meta.url);
const MAIN = new URL("main.ts", ROOT).pathname;

/** The flags between `deno run` and `main.ts` in the `grid` task. */
async function releaseFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const task = config.tasks.grid;
  const words = (typeof task === "string" ? task : task.command).trim().split(/\s+/);
  assertEquals(words.slice(0, 2), ["deno", "run"]);
  assertEquals(words.at(-1), "main.ts");
  return words.slice(2, -1);
}

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs `grid ARGS` with the release flags in `home`, optionally feeding stdin. */
async function grid(home: string, args: string[], stdin?: Uint8Array): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...await releaseFlags(), MAIN, ...args],
    cwd: ROOT.pathname,
    env: { GRID_HOME: home, NO_COLOR: "1", GRID_DEBUG: "" },
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Exactly one line on stderr, starting "grid: ", no stack trace, and a non-zero exit. */
function assertOneLineFailure(run: Run, includes: string): void {
  assert(run.code !== 0, `exit code ${run.code}`);
  const lines = run.stderr.split("\n").filter((l) => l.length > 0);
  assertEquals(lines.length, 1, `stderr: ${run.stderr}`);
  assert(lines[0].startsWith("grid: "), lines[0]);
  assert(lines[0].includes(includes), `"${lines[0]}" lacks "${includes}"`);
  assert(!/^\s+at /m.test(run.stderr) && !run.stderr.includes("Stack backtrace"), run.stderr);
  assertEquals(run.stdout.length, 0);
}

async function withHome(fn: (home: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-cli-" });
  try {
    await fn(`${dir}/home`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the grid task's flags are the release set: no --allow-all, run limited to wg, ip, wireguard-go", async () => {
  const flags = await releaseFlags();
  assert(!flags.includes("--allow-all") && !flags.includes("-A"), flags.join(" "));
  assert(flags.includes("--allow-run=wg,ip,wireguard-go"), flags.join(" "));
  // What `deno task grid` runs is what `deno task compile` bakes into the binary.
  assertEquals(flags, [...RELEASE_V8_FLAGS, ...RELEASE_PERMISSIONS]);
});

Deno.test("grid put prints a hash and grid get returns identical bytes", async (t) => {
  await withHome(async (home, dir) => {
    const files: [string, Uint8Array][] = [
      ["a text file", new TextEncoder().encode("hello grid\n")],
      [
        "a binary file with every byte value",
        new Uint8Array(70_000).map((_, i) => (i * 131) % 256),
      ],
      ["an empty file", new Uint8Array()],
    ];
    for (const [name, data] of files) {
      await t.step(name, async () => {
        const path = `${dir}/input.bin`;
        await Deno.writeFile(path, data);
        const put = await grid(home, ["put", path]);
        assertEquals(put.stderr, "");
        assertEquals(put.code, 0);
        const hash = text(put.stdout);
        assert(/^bafk[a-z2-7]+\n$/.test(hash), `not one hash line: ${JSON.stringify(hash)}`);
        const get = await grid(home, ["get", hash.trim()]);
        assertEquals(get.code, 0, get.stderr);
        assertEquals(get.stderr, "");
        assertEquals(get.stdout, data);
      });
    }
    await t.step("put - reads standard input", async () => {
      const data = new TextEncoder().encode("from a pipe");
      const put = await grid(home, ["put", "-"], data);
      assertEquals(put.code, 0, put.stderr);
      const get = await grid(home, ["get", text(put.stdout).trim()]);
      assertEquals(get.stdout, data);
    });
  });
});

Deno.test("grid --show join-wireguard-net prints the promise text the module carries", async () => {
  await withHome(async (home) => {
    const run = await grid(home, ["--show", "join-wireguard-net"]);
    assertEquals(run.code, 0, run.stderr);
    const join = (await BUILTINS.commands()).find((c) => c.name === "join-wireguard-net");
    assert(join, "join-wireguard-net is a builtin");
    assertEquals(text(run.stdout), join.promise + "\n");
    assertEquals(run.stderr, "");
  });
});

Deno.test("grid fails with exactly one line on stderr and a non-zero exit", async (t) => {
  await withHome(async (home, dir) => {
    const cases: [string, string[], string][] = [
      ["an unknown command", ["no-such-command"], '"no-such-command"'],
      ["--show of an unknown command", ["--show", "no-such-command"], '"no-such-command"'],
      ["a hash that does not parse", ["get", "not-a-hash"], '"not-a-hash"'],
      ["a hash of the wrong kind (CIDv0)", [
        "get",
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
      ], "Invalid hash"],
      ["a valid hash that is nowhere", [
        "get",
        "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      ], "Not here"],
      ["put of a missing file", ["put", `${dir}/missing`], "no such file"],
      ["put of a directory", ["put", dir], "not a regular file"],
      ["get without a hash", ["get"], "Usage"],
      ["an unknown option", ["--frobnicate"], '"--frobnicate"'],
      ["serve --dns that is no IP", ["serve", "--dns", "bogus"], 'Invalid DNS address "bogus"'],
      ["serve --dns with --no-dns", ["serve", "--no-dns", "--dns", "127.0.0.1"], "--no-dns"],
      [
        "serve --dns-suffix that is no DNS name",
        ["serve", "--dns-suffix", "a..b"],
        "Invalid DNS suffix",
      ],
    ];
    for (const [name, args, includes] of cases) {
      await t.step(name, async () => {
        assertOneLineFailure(await grid(home, args), includes);
      });
    }
  });
});

Deno.test("grid with a corrupt config fails with one clear line", async () => {
  await withHome(async (home) => {
    await Deno.mkdir(home, { recursive: true });
    await Deno.writeTextFile(`${home}/config`, "{ not json");
    assertOneLineFailure(await grid(home, ["--show", "put"]), "corrupt");
  });
});

Deno.test("grid with a GRID_HOME that cannot be created fails with one clear line", async () => {
  await withHome(async (_home, dir) => {
    const blocker = `${dir}/not-a-directory`;
    await Deno.writeTextFile(blocker, "a file where the home should be");
    assertOneLineFailure(
      await grid(`${blocker}/home`, ["--show", "put"]),
      "Cannot create grid home",
    );
  });
});
