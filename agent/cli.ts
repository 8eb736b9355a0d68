/**
 * The command line: `grid {promise} [arg ...]`. The name is resolved through
 * the symbol table to a module hash and the call goes through the kernel like
 * any other message; `grid --show NAME` prints the promise without running it.
 *
 * @module
 */
import {
  CidBytes,
  controlSocketPath,
  ensureHome,
  GridError,
  type GridHome,
  oneLine,
  resolveHome,
  UsageError,
} from "../kernel/base/mod.ts";
import type { Io, SymbolEntry } from "../kernel/mod.ts";
import type { Builtins, Command } from "../builtins/mod.ts";
import type { GridNode } from "./node.ts";
import { forwardToAgent } from "./control.ts";
import { exitCodeForCode, exitCodeOf } from "./exit_codes.ts";
import { findSymbol } from "./lookup.ts";

/** grid's version, printed by `grid version`. */
export const VERSION = "0.2.0";

/** The process's terminal as an {@link Io}. */
export function terminalIo(): Io {
  const encoder = new TextEncoder();
  return {
    async stdout(data) {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      let written = 0;
      while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
    },
    stderr(line) {
      Deno.stderr.writeSync(encoder.encode(line.endsWith("\n") ? line : line + "\n"));
    },
  };
}

/** Options for {@link runCli}. */
export interface CliOptions {
  /** The builtin commands (main.ts hands in the binary's registry). */
  builtins: Builtins;
  /** The terminal (default: this process's). */
  io?: Io;
}

/** Runs the command line `argv` (without the program name); returns the exit code. */
export async function runCli(argv: string[], options: CliOptions): Promise<number> {
  const io = options.io ?? terminalIo();
  try {
    return await dispatch(argv, io, options.builtins);
  } catch (err) {
    io.stderr(`grid: ${oneLine(err)}`);
    if (!(err instanceof GridError) && Deno.env.get("GRID_DEBUG")) console.error(err);
    return exitCodeOf(err);
  }
}

/**
 * Opens this process's node in `home`, able to run the agent for `serve` and
 * a foreground join. The kernel (and the agent) load here, not before: a
 * command the running agent answers, help and version never get this far.
 */
async function open(builtins: Builtins, home: GridHome): Promise<GridNode> {
  const { openNode } = await import("./node.ts");
  return await openNode({
    builtins,
    home,
    runAgent: async (node, run) => {
      const { runAgent } = await import("./agent.ts");
      await runAgent({ ...run, node, io: run.io });
    },
  });
}

/** True when something is at the agent's socket path: an agent may answer. */
async function socketPresent(home: GridHome): Promise<boolean> {
  try {
    await Deno.lstat(controlSocketPath(home.root));
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function dispatch(argv: string[], io: Io, builtins: Builtins): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const about = first === "help" && rest.length > 0
      ? await findBuiltin(builtins, rest[0])
      : undefined;
    if (first === "help" && rest.length > 0 && !about) {
      throw new UsageError(`No command "${rest[0]}"; try grid --help`);
    }
    await io.stdout(about ? commandHelp(about) : await helpText(builtins));
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    await io.stdout(`grid ${VERSION} (deno ${Deno.version.deno})\n`);
    return 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    // Help on a command, before anything runs (or is sent to the agent).
    const about = await findBuiltin(builtins, first);
    if (about) {
      await io.stdout(commandHelp(about));
      return 0;
    }
  }
  if (first === "--show") {
    if (rest.length !== 1) throw new UsageError("Usage: grid --show SUBCOMMAND");
    const home = resolveHome();
    await ensureHome(home);
    const found = await findSymbol(home, rest[0], builtins);
    if (found) {
      await io.stdout(found.entry.promiseText + "\n");
      return 0;
    }
    const node = await open(builtins, home);
    const { lookup } = await import("../kernel/mod.ts");
    await io.stdout(lookup(node.symbols, rest[0]).promiseText + "\n");
    return 0;
  }
  if (first.startsWith("-")) {
    throw new UsageError(`Unknown option "${first}"; try grid --help`);
  }

  const home = resolveHome();
  await ensureHome(home);
  // With an agent to answer, a builtin found in the current symbol table is sent to it at
  // once: the kernel stays unloaded (openNode would find the same entry and write nothing).
  const found = !Deno.env.get("GRID_NO_AGENT") && await socketPresent(home)
    ? await findSymbol(home, first, builtins)
    : undefined;
  if (found?.command) {
    const { command } = found;
    const args = command.inputArgs ? await Promise.all(rest.map(readInputArg)) : rest;
    const target = { promise: found.entry.promise, module: found.entry.module, command };
    const forwarded = await forwardToAgent(home.root, target, args, io);
    if (forwarded !== undefined) return forwarded;
    // The agent was gone after all (or the command runs here): run it in this process.
    const node = await open(builtins, home);
    const { lookup } = await import("../kernel/mod.ts");
    return await runHere(node, lookup(node.symbols, first), args, io);
  }

  const node = await open(builtins, home);
  const { lookup } = await import("../kernel/mod.ts");
  const entry = lookup(node.symbols, first);
  let args = rest;
  if (entry.kind === "builtin" && (await findBuiltin(builtins, first))?.inputArgs) {
    args = await Promise.all(rest.map(readInputArg));
  }
  if (entry.kind !== "builtin") {
    // A module by hash: fetched through the kernel, verified, run sandboxed here (#5).
    const { prepareModuleRun } = await import("../modules/exec/mod.ts");
    prepareModuleRun(node, first, entry);
  }
  const builtin = node.builtins.get(entry.module.toString());
  if (builtin) {
    const target = {
      promise: new CidBytes(entry.promise.bytes),
      module: new CidBytes(entry.module.bytes),
      command: builtin.command,
    };
    const forwarded = await forwardToAgent(home.root, target, args, io);
    if (forwarded !== undefined) return forwarded;
  }
  return await runHere(node, entry, args, io);
}

/** Runs `entry` with `args` through this process's kernel; returns the exit code. */
async function runHere(
  node: GridNode,
  entry: SymbolEntry,
  args: string[],
  io: Io,
): Promise<number> {
  const { isAccept, rejectReason } = await import("../kernel/mod.ts");
  const abort = new AbortController();
  const stop = () => abort.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const reply = await node.kernel.call([entry.promise, entry.module, ...args], {
      io,
      signal: abort.signal,
    });
    if (isAccept(reply)) return typeof reply[1] === "number" ? reply[1] : 0;
    const { code, reason } = rejectReason(reply);
    io.stderr(`grid: ${reason}`);
    return exitCodeForCode(code);
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}

/** `-` → standard input's content, `@FILE` → the file's, trimmed; other arguments as they are. */
async function readInputArg(arg: string): Promise<string> {
  if (arg === "-") return (await new Response(Deno.stdin.readable).text()).trim();
  if (arg.startsWith("@") && arg.length > 1) {
    try {
      return (await Deno.readTextFile(arg.slice(1))).trim();
    } catch (err) {
      throw new UsageError(`Cannot read "${arg.slice(1)}": ${oneLine(err)}`);
    }
  }
  return arg;
}

/** The builtin command called `name`, if any. */
async function findBuiltin(registry: Builtins, name: string): Promise<Command | undefined> {
  return (await registry.commands()).find((c) => c.name === name);
}

/** Help lines fit in this many columns. */
const HELP_WIDTH = 100;

/** Words of `text`; a bracketed option (`[--advertise URL|auto]`) is one word. */
function words(text: string): string[] {
  const out: string[] = [];
  let word = "";
  let depth = 0;
  for (const ch of text) {
    if (ch === "[") depth++;
    if (ch === "]") depth = Math.max(0, depth - 1);
    if (ch === " " && depth === 0) {
      if (word) out.push(word);
      word = "";
    } else {
      word += ch;
    }
  }
  if (word) out.push(word);
  return out;
}

/** `text` broken into lines of at most `width` columns between words (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of words(text)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** `grid COMMAND --help`: its usage, what it does, each option, and where its promise is. */
export function commandHelp(c: Command): string {
  const out = [...wrap(c.usage, HELP_WIDTH).map((l, i) => (i === 0 ? l : `    ${l}`)), ""];
  out.push(...wrap(c.summary, HELP_WIDTH), "");
  const options = c.options ?? [];
  if (options.length > 0) {
    const width = Math.min(28, Math.max(...options.map(([o]) => o.length)));
    const indent = " ".repeat(width + 4);
    for (const [option, text] of options) {
      const body = wrap(text, HELP_WIDTH - indent.length);
      if (option.length > width) {
        out.push(`  ${option}`, ...body.map((l) => indent + l));
      } else {
        const lead = `  ${option.padEnd(width)}  `;
        out.push(...body.map((l, i) => (i === 0 ? lead : indent) + l));
      }
    }
    out.push("");
  }
  out.push(`grid --show ${c.name} prints the promise it makes.`, "");
  return out.join("\n");
}

/** The order `grid --help` lists commands in (others after). */
const HELP_ORDER = [
  "serve",
  "create-wireguard-net",
  "invite",
  "join-wireguard-net",
  "status",
  "admins",
  "revoke",
  "leave-wireguard-net",
  "wait",
  "down",
];

const GROUPS: readonly [Command["group"], string][] = [
  ["mesh", "WireGuard nets"],
  ["peers", "Grid peers"],
  ["content", "Content and modules"],
];

async function helpText(registry: Builtins): Promise<string> {
  const rank = (c: Command) => {
    const i = HELP_ORDER.indexOf(c.name);
    return i === -1 ? HELP_ORDER.length : i;
  };
  const commands = (await registry.commands()).sort((a, b) => rank(a) - rank(b));
  const name = Math.max(...commands.map((c) => c.name.length));
  const out = [
    "grid: a promise-based network agent; deploys and manages a WireGuard mesh with no central server",
    "",
    "Usage: grid COMMAND [ARG...]        grid COMMAND --help for its options",
    "",
  ];
  for (const [group, title] of GROUPS) {
    out.push(`${title}:`);
    for (const c of commands.filter((x) => x.group === group)) {
      const lead = `  ${c.name.padEnd(name)}  `;
      out.push(
        ...wrap(c.summary, HELP_WIDTH - lead.length).map((l, i) =>
          (i === 0 ? lead : " ".repeat(lead.length)) + l
        ),
      );
      // Every option, in the usage line (without the leading "grid NAME").
      const rest = c.usage.replace(/^grid \S+\s*/, "");
      if (rest) {
        out.push(...wrap(rest, HELP_WIDTH - lead.length).map((l) => " ".repeat(lead.length) + l));
      }
    }
    out.push("");
  }
  out.push(
    "Other:",
    `  ${"version".padEnd(name)}  print grid's version`,
    `  ${"help [COMMAND]".padEnd(name)}  this text, or one command's`,
    `  ${"--show COMMAND".padEnd(name)}  print the promise a command makes`,
    `  ${"NAME [ARG...]".padEnd(name)}  run any module the symbol table names`,
    "",
    "GRID_HOME overrides the home (default: /var/lib/grid for root, like the service; else ~/.grid).",
    "",
  );
  return out.join("\n");
}
