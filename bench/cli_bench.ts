/**
 * Command-line start-up: `deno run FLAGS main.ts ARGS` against a bare
 * `deno run FLAGS empty.ts`, with FLAGS the release permissions (deno.json's
 * `grid` task), every run a fresh process timed from spawn to exit. Rounds
 * are interleaved and each round runs its commands in a new random order, so
 * a noisy machine spreads its noise over every row; the table gives each
 * command's median and its ratio to the empty run's median.
 *
 * The commands a running agent answers run against an agent (`grid serve
 * --listen 127.0.0.1:0`) in a temporary GRID_HOME; the others run with it
 * (version, help, `--show`, `wait`), in a home with no agent (the command
 * runs in the process), and `serve` is timed until it prints its listening
 * line. With `--base REF` the same commands also run in a checkout of REF,
 * each side with its own homes and agent, interleaved in the same rounds
 * (before/after in one run). With `--net` (root, wireguard-go) each side's
 * agent first creates a net, so `status` has an interface to report on.
 * Exit codes must agree between the sides; the run fails otherwise.
 *
 * Beside each wall-time median it prints the median CPU time (user + system)
 * of a second run of the same command in the same round, read from bash's
 * `times`: a busy machine stretches wall time far more than CPU time
 * (`--no-cpu` leaves these runs out).
 *
 * Usage:
 *   deno run --allow-all bench/cli_bench.ts [--rounds 21] [--base REF] [--net] [--no-cpu]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { median, printTable } from "./_table.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The flags between `deno run` and `main.ts` in deno.json's `grid` task. */
async function releaseFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const task = config.tasks.grid;
  const command: string = typeof task === "string" ? task : task.command;
  return command.split(/\s+/).filter((w) => w.startsWith("--"));
}

/** One command line to time, and the goal it is held to. */
interface Case {
  /** Row label. */
  name: string;
  /** `answered`: the agent answers it (goal 2x); `other`: everything else (goal 3x). */
  goal: "answered" | "other" | "baseline";
  /** Which home it runs in. */
  home: "agent" | "idle" | "serve" | "none";
  /** Arguments after main.ts (empty for the baseline). */
  args: (side: Side) => string[];
}

/** One tree under test: its main.ts, its homes and its running agent. */
interface Side {
  label: string;
  dir: string;
  homes: { agent: string; idle: string; serve: string };
  agent?: Deno.ChildProcess;
  hash: string;
  file: string;
  net?: string;
}

async function run(
  cmd: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Spawns `grid serve` in `home` and resolves once it printed its listening line. */
async function startServe(
  flags: string[],
  dir: string,
  home: string,
): Promise<{ child: Deno.ChildProcess; ms: number }> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      `${dir}/main.ts`,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--log-level",
      "warn",
    ],
    env: { GRID_HOME: home, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`grid serve in ${home} ended before it listened`);
    seen += value;
  }
  const ms = performance.now() - start;
  // Keep draining, so the agent never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* drop */ }
  })().catch(() => {});
  return { child, ms };
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch (err) {
    if (!(err instanceof TypeError)) throw err; // already exited
  }
  await child.status;
}

const CASES: Case[] = [
  { name: "empty file (baseline)", goal: "baseline", home: "none", args: () => [] },
  { name: "status", goal: "answered", home: "agent", args: () => ["status"] },
  { name: "status --json", goal: "answered", home: "agent", args: () => ["status", "--json"] },
  { name: "peers list", goal: "answered", home: "agent", args: () => ["peers", "list"] },
  { name: "symbols", goal: "answered", home: "agent", args: () => ["symbols"] },
  { name: "invite list", goal: "answered", home: "agent", args: () => ["invite", "list"] },
  { name: "get HASH", goal: "answered", home: "agent", args: (s) => ["get", s.hash] },
  { name: "put FILE", goal: "answered", home: "agent", args: (s) => ["put", s.file] },
  { name: "version", goal: "other", home: "agent", args: () => ["version"] },
  { name: "--help", goal: "other", home: "agent", args: () => ["--help"] },
  { name: "status --help", goal: "other", home: "agent", args: () => ["status", "--help"] },
  { name: "--show status", goal: "other", home: "agent", args: () => ["--show", "status"] },
  { name: "wait (agent up)", goal: "other", home: "agent", args: () => ["wait"] },
  { name: "status (no agent)", goal: "other", home: "idle", args: () => ["status"] },
  { name: "symbols (no agent)", goal: "other", home: "idle", args: () => ["symbols"] },
  { name: "peers list (no agent)", goal: "other", home: "idle", args: () => ["peers", "list"] },
  { name: "serve (until listening)", goal: "other", home: "serve", args: () => ["serve"] },
];

const NET_CASES: Case[] = [
  { name: "status NET", goal: "answered", home: "agent", args: (s) => ["status", s.net!] },
  { name: "admins NET", goal: "answered", home: "agent", args: (s) => ["admins", s.net!] },
];

function shuffle<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "21" },
      base: { type: "string" },
      net: { type: "boolean", default: false },
      "no-cpu": { type: "boolean", default: false },
    },
  });
  const rounds = Number(values.rounds);
  const withCpu = !values["no-cpu"];
  const flags = await releaseFlags();
  const tmp = await Deno.makeTempDir({ prefix: "grid-cli-bench-" });
  const empty = `${tmp}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const file = `${tmp}/small.txt`;
  await Deno.writeTextFile(file, "a small file for grid put and get\n");
  const cases = values.net ? [...CASES, ...NET_CASES] : CASES;

  const sides: Side[] = [];
  const worktrees: string[] = [];
  try {
    const dirs: [string, string][] = [];
    if (values.base) {
      const dir = `${tmp}/base`;
      await run(["git", "-C", ROOT, "worktree", "add", "--detach", dir, values.base], {});
      worktrees.push(dir);
      dirs.push([`before (${values.base})`, dir]);
    }
    dirs.push([values.base ? "after" : "this tree", ROOT]);
    for (const [i, [label, dir]] of dirs.entries()) {
      const homes = {
        agent: `${tmp}/h${i}-agent`,
        idle: `${tmp}/h${i}-idle`,
        serve: `${tmp}/h${i}-serve`,
      };
      for (const h of Object.values(homes)) await Deno.mkdir(h, { mode: 0o700 });
      const side: Side = { label, dir, homes, hash: "", file };
      sides.push(side);
      side.agent = (await startServe(flags, dir, homes.agent)).child;
      const put = await run([Deno.execPath(), "run", ...flags, `${dir}/main.ts`, "put", file], {
        GRID_HOME: homes.agent,
      });
      if (put.code !== 0) throw new Error(`put failed: ${put.stderr}`);
      side.hash = put.stdout.trim();
      if (values.net) {
        side.net = `clibench${i}`;
        const create = await run([
          Deno.execPath(),
          "run",
          ...flags,
          `${dir}/main.ts`,
          "create-wireguard-net",
          side.net,
          "--cidr",
          `10.213.${i}.0/24`,
          "--interface",
          `gclib${i}`,
          "--listen-port",
          `${51990 + i}`,
          "--endpoint",
          `192.0.2.${i + 1}:${51990 + i}`,
        ], { GRID_HOME: homes.agent });
        if (create.code !== 0) throw new Error(`create failed: ${create.stderr}`);
      }
    }

    /** The command line a case runs (empty for serve, which is timed to its listening line). */
    const commandOf = (side: Side, c: Case): { cmd: string[]; env: Record<string, string> } =>
      c.home === "none" ? { cmd: [Deno.execPath(), "run", ...flags, empty], env: {} } : {
        cmd: [Deno.execPath(), "run", ...flags, `${side.dir}/main.ts`, ...c.args(side)],
        env: { GRID_HOME: side.homes[c.home as "agent" | "idle"], NO_COLOR: "1" },
      };
    const time = async (side: Side, c: Case): Promise<{ ms: number; code: number }> => {
      if (c.home === "serve") {
        const { child, ms } = await startServe(flags, side.dir, side.homes.serve);
        await stop(child);
        return { ms, code: 0 };
      }
      const { cmd, env } = commandOf(side, c);
      const start = performance.now();
      const r = await run(cmd, env);
      return { ms: performance.now() - start, code: r.code };
    };
    /** CPU time (user + system) of one more run, from bash's `times` (millisecond resolution). */
    const cpu = async (side: Side, c: Case): Promise<number | undefined> => {
      if (c.home === "serve") return undefined;
      const { cmd, env } = commandOf(side, c);
      const script = '"$@" >/dev/null 2>&1; times';
      const r = await run(["bash", "-c", script, "bash", ...cmd], env);
      const m = r.stdout.trim().split("\n").at(-1)?.match(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/);
      if (!m) throw new Error(`no times from bash: ${r.stdout}`);
      return (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
    };

    // One untimed pass: Deno's caches, the homes' config and symbol tables, as in daily use.
    const codes = new Map<string, number>();
    for (const side of sides) {
      for (const c of cases) {
        const { code } = await time(side, c);
        const seen = codes.get(c.name);
        if (seen !== undefined && seen !== code) {
          throw new Error(`"${c.name}" exits ${seen} before and ${code} after`);
        }
        codes.set(c.name, code);
      }
    }
    const times = new Map<string, number[]>();
    const cpuTimes = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++) {
      console.error(`cli_bench: round ${round + 1} of ${rounds}`);
      const tasks = sides.flatMap((side) => cases.map((c) => [side, c] as const));
      for (const [side, c] of shuffle(tasks)) {
        const { ms, code } = await time(side, c);
        if (code !== codes.get(c.name)) throw new Error(`"${c.name}" exited ${code} this time`);
        const key = `${side.label}\0${c.name}`;
        times.set(key, [...(times.get(key) ?? []), ms]);
        const cpuMs = withCpu ? await cpu(side, c) : undefined;
        if (cpuMs !== undefined) cpuTimes.set(key, [...(cpuTimes.get(key) ?? []), cpuMs]);
      }
    }

    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
    console.log(
      `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, load ${load}; ` +
        `${rounds} rounds; flags: ${flags.join(" ")}\n`,
    );
    const goalText = { answered: "≤ 2x", other: "≤ 3x", baseline: "1x" } as const;
    const header = ["command", "goal"];
    for (const s of sides) {
      header.push(`${s.label} ms`, `${s.label} ratio`);
      if (withCpu) header.push(`${s.label} CPU ms`, `${s.label} CPU ratio`);
    }
    const rows = cases.map((c) => {
      const row = [c.name, goalText[c.goal]];
      for (const s of sides) {
        const base = median(times.get(`${s.label}\0${cases[0].name}`)!);
        const m = median(times.get(`${s.label}\0${c.name}`)!);
        row.push(m.toFixed(1), `${(m / base).toFixed(2)}x`);
        if (withCpu) {
          const cpuBase = median(cpuTimes.get(`${s.label}\0${cases[0].name}`)!);
          const samples = cpuTimes.get(`${s.label}\0${c.name}`);
          const m = samples ? median(samples) : undefined;
          row.push(m?.toFixed(1) ?? "-", m === undefined ? "-" : `${(m / cpuBase).toFixed(2)}x`);
        }
      }
      return row;
    });
    printTable(header, rows);
  } finally {
    for (const side of sides) {
      if (side.agent) await stop(side.agent);
      if (side.net) {
        // The agent is stopped: take its interface (and wireguard-go) down.
        await run([Deno.execPath(), "run", ...flags, `${side.dir}/main.ts`, "down"], {
          GRID_HOME: side.homes.agent,
        });
      }
    }
    for (const dir of worktrees) {
      await run(["git", "-C", ROOT, "worktree", "remove", "--force", dir], {});
    }
    await Deno.remove(tmp, { recursive: true });
  }
}
