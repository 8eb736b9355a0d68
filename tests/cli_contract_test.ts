/**
 * The command line's contract, on the real binary's permissions: help on
 * every command (before anything runs), a grouped `--help` that fits 100
 * columns and names every command and option, `version`, and `status`'s
 * exit code as a health check.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { BUILTINS } from "../builtins/mod.ts";
import { releaseFlags } from "./lab/mesh_lab.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const flags = await releaseFlags();

async function grid(home: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, `${ROOT}main.ts`, ...args],
    env: { GRID_HOME: home, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function fits(text: string): void {
  for (const line of text.split("\n")) assert(line.length <= 100, `over 100 columns: ${line}`);
}

Deno.test("every command has --help, which runs nothing and lists every option", async () => {
  const home = await Deno.makeTempDir();
  try {
    for (const { command } of await BUILTINS.load()) {
      const out = await grid(home, command.name, "--help");
      assertEquals(out.code, 0, `${command.name}: ${out.stderr}`);
      assert(out.stdout.startsWith(`grid ${command.name}`), out.stdout);
      fits(out.stdout);
      for (const [option] of command.options ?? []) {
        assert(out.stdout.includes(option), `${command.name} --help names ${option}`);
      }
    }
    // Nothing ran: no net, no agent socket.
    const entries = [...Deno.readDirSync(home)].map((e) => e.name);
    assert(!entries.includes("agent.sock"), entries.join(","));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("grid --help is grouped, fits 100 columns and names every command and option", async () => {
  const home = await Deno.makeTempDir();
  try {
    const out = await grid(home, "--help");
    assertEquals(out.code, 0);
    fits(out.stdout);
    const mesh = out.stdout.indexOf("WireGuard nets:");
    const content = out.stdout.indexOf("Content and modules:");
    assert(mesh >= 0 && content > mesh, "mesh first, content after");
    for (const { command } of await BUILTINS.load()) {
      assert(out.stdout.includes(`  ${command.name} `), command.name);
      for (const flag of command.usage.match(/--[a-z-]+/g) ?? []) {
        assert(out.stdout.includes(flag), `${command.name} ${flag}`);
      }
    }
    const help = await grid(home, "help", "status");
    assert(help.stdout.startsWith("grid status"), help.stdout);
    const unknown = await grid(home, "help", "no-such-command");
    assertEquals(unknown.code, 2);
    assertEquals(unknown.stderr.trim().split("\n").length, 1);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("grid version; grid status exits 1 when no agent runs (a health check)", async () => {
  const home = await Deno.makeTempDir();
  try {
    const v = await grid(home, "version");
    assertEquals(v.code, 0);
    assert(/^grid \d+\.\d+\.\d+ \(deno /.test(v.stdout), v.stdout);
    assertEquals((await grid(home, "--version")).stdout, v.stdout);
    const status = await grid(home, "status");
    assertEquals(status.code, 1, status.stderr);
    assert(status.stdout.includes("agent  not running"), status.stdout);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
