/**
 * The command line's short way to a running agent (agent/lookup.ts over
 * kernel/base/): a builtin found in the current symbol table is sent to the
 * agent without loading the kernel. These tests hold it to the long way
 * (openNode, the kernel's codec): the same bytes on stdout and stderr and the
 * same exit code, with npm switched off (`--no-npm`), so nothing it loads
 * comes from npm; and nothing from npm or `node:` in the static import graph
 * of main.ts and of each builtin command's description.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { BUILTIN_FILES } from "../builtins/mod.ts";
import { releaseFlags } from "./lab/mesh_lab.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const flags = await releaseFlags();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function grid(
  home: string,
  args: string[],
  options: { extraFlags?: string[]; cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, ...(options.extraFlags ?? []), MAIN, ...args],
    cwd: options.cwd ?? ROOT,
    env: { GRID_HOME: home, NO_COLOR: "1", GRID_DEBUG: "", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts `grid serve` in `home`; resolves once it listens. */
async function serve(home: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, MAIN, "serve", "--listen", "127.0.0.1:0", "--log-level", "warn"],
    env: { GRID_HOME: home, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    assert(!done, "grid serve ended before it listened");
    seen += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* keep the pipe drained */ }
  })().catch(() => {});
  return child;
}

async function stop(agent: Deno.ChildProcess): Promise<void> {
  try {
    agent.kill("SIGTERM");
  } catch (err) {
    if (!(err instanceof TypeError)) throw err; // already gone
  }
  await agent.status;
}

async function withAgent(fn: (home: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-cli-fast-" });
  const home = `${dir}/home`;
  await Deno.mkdir(home, { mode: 0o700 });
  const agent = await serve(home);
  try {
    await fn(home, dir);
  } finally {
    await stop(agent);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Makes openNode find the builtins changed, so the next command takes the long way. */
async function spoilBuiltinsHash(home: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${home}/config`));
  const good = config.builtins;
  config.builtins = "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  await Deno.writeTextFile(`${home}/config`, JSON.stringify(config, null, 2) + "\n");
  return good;
}

Deno.test("main.ts and each builtin's description import nothing from npm or node:", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", MAIN],
    stdout: "piped",
  }).output();
  assert(out.success, "deno info");
  const graph = JSON.parse(new TextDecoder().decode(out.stdout));
  const modules = new Map<string, { dependencies?: { code?: { specifier?: string } }[] }>(
    graph.modules.map((m: { specifier: string }) => [m.specifier, m]),
  );
  /** Every module `root` loads before it runs (type-only and dynamic imports left out). */
  const closure = (root: string): string[] => {
    const seen = new Set<string>();
    const stack = [root];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      for (const dep of modules.get(s)?.dependencies ?? []) {
        if ((dep as { isDynamic?: boolean }).isDynamic) continue;
        if (dep.code?.specifier) stack.push(dep.code.specifier);
      }
    }
    return [...seen];
  };
  const roots = [
    new URL(MAIN, "file:///").href,
    ...BUILTIN_FILES.map(([file]) => new URL(`builtins/${file}`, `file://${ROOT}`).href),
  ];
  for (const root of roots) {
    assert(modules.has(root), `${root} is in the graph`);
    const heavy = closure(root).filter((s) => !s.startsWith("file:"));
    assertEquals(heavy, [], `${root} loads ${heavy.join(", ")}`);
  }
});

Deno.test("a command the agent answers: the same bytes and exit code, the short way without npm", async (t) => {
  await withAgent(async (home, dir) => {
    await Deno.writeTextFile(`${dir}/small.txt`, "some bytes\n");
    await Deno.writeTextFile(`${dir}/invite.txt`, "grid2.not-an-invite\n");
    const put = await grid(home, ["put", `${dir}/small.txt`]);
    assertEquals(put.code, 0, put.stderr);
    const hash = put.stdout.trim();
    const cases: string[][] = [
      ["status"],
      ["status", "--json"],
      ["status", "--bogus"],
      ["status", "no-such-net"],
      ["peers", "list"],
      ["peers", "list", "--json"],
      ["symbols"],
      ["symbols", "--json"],
      ["invite", "list"],
      ["invite", "no-such-net"],
      ["admins", "no-such-net"],
      ["leave-wireguard-net", "no-such-net"],
      ["get", hash],
      ["get", "not-a-hash"],
      ["put", "small.txt"],
      ["join-wireguard-net", "no-such-net", `@${dir}/invite.txt`],
    ];
    for (const args of cases) {
      await t.step(args.join(" "), async () => {
        // --no-npm: the run fails if anything it loads comes from npm.
        const short = await grid(home, args, { extraFlags: ["--no-npm"], cwd: dir });
        const good = await spoilBuiltinsHash(home);
        const long = await grid(home, args, { cwd: dir });
        const rewritten = JSON.parse(await Deno.readTextFile(`${home}/config`)).builtins;
        assertEquals(rewritten, good, "the long way went through openNode, which rewrote config");
        assertEquals(short, long);
      });
    }
    await t.step("--show, with the agent running", async () => {
      const short = await grid(home, ["--show", "status"], { extraFlags: ["--no-npm"] });
      await spoilBuiltinsHash(home);
      assertEquals(short, await grid(home, ["--show", "status"]));
      assertEquals(short.code, 0);
    });
  });
});

Deno.test("a socket left by a killed agent: the short way runs the command here instead", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-cli-fast-" });
  try {
    const home = `${dir}/home`;
    await Deno.mkdir(home, { mode: 0o700 });
    const agent = await serve(home);
    agent.kill("SIGKILL");
    await agent.status;
    const stale = await Deno.lstat(`${home}/agent.sock`);
    assert(stale.isSocket, "the killed agent left its socket");
    const here = await grid(home, ["status"]);
    const again = await grid(home, ["status"], { env: { GRID_NO_AGENT: "1" } });
    assertEquals(here, again);
    assertEquals(here.code, 1, "no agent: not healthy");
    assert(here.stdout.includes("not running"), here.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** script(1) runs a command on a terminal of its own (util-linux). */
const hasScript = (await new Deno.Command("sh", { args: ["-c", "command -v script"] }).output())
  .success;

Deno.test({
  name: "a forwarded command still working after 2 s says so on a terminal",
  ignore: !hasScript,
}, async () => {
  const { ControlServer, controlSocketPath, accept } = await import("../kernel/mod.ts");
  const dir = await Deno.makeTempDir({ prefix: "grid-cli-fast-" });
  const home = `${dir}/home`;
  try {
    await Deno.mkdir(home, { mode: 0o700 });
    assertEquals((await grid(home, ["status"])).code, 1, "no agent yet: the home is made");
    // An "agent" that takes 2.5 s to answer, so the notice is due while the command waits.
    const slow = await ControlServer.start(controlSocketPath(home), {
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        return accept(0, new TextEncoder().encode("answered\n"), "");
      },
    });
    try {
      const line = ["run", ...flags, "--no-npm", MAIN, "status"].map((w) => `'${w}'`).join(" ");
      const out = await new Deno.Command("script", {
        args: ["-qec", `'${Deno.execPath()}' ${line}`, "/dev/null"],
        env: { GRID_HOME: home, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, text);
      assert(text.includes("grid: the agent is working on status"), text);
      assert(text.indexOf("working on") < text.indexOf("answered"), text);
    } finally {
      await slow.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
