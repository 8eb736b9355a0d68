/**
 * The command line: `grid {promise} [arg ...]`. The name is resolved through
 * the symbol table to a module hash and the call goes through the kernel like
 * any other message; `grid --show NAME` prints the promise without running it.
 *
 * @module
 */
import {
  GridError,
  type Io,
  isAccept,
  lookup,
  oneLine,
  rejectReason,
  UsageError,
} from "../kernel/mod.ts";
import type { Builtins } from "../builtins/mod.ts";
import { prepareModuleRun } from "../modules/exec/mod.ts";
import { type GridNode, openNode } from "./node.ts";
import { runAgent } from "./agent.ts";
import { forwardToAgent } from "./control.ts";
import { exitCodeForCode, exitCodeOf } from "./exit_codes.ts";

/** grid's version, printed by `grid --version`. */
export const VERSION = "0.1.0";

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

/** Opens this process's node, able to run the agent for `serve` and a foreground join. */
function open(builtins: Builtins): Promise<GridNode> {
  return openNode({
    builtins,
    runAgent: (node, run) => runAgent({ ...run, node, io: run.io }),
  });
}

async function dispatch(argv: string[], io: Io, builtins: Builtins): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    await io.stdout(await helpText(builtins));
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    await io.stdout(`grid ${VERSION}\n`);
    return 0;
  }
  if (first === "--show") {
    if (rest.length !== 1) throw new UsageError("Usage: grid --show SUBCOMMAND");
    const node = await open(builtins);
    await io.stdout(lookup(node.symbols, rest[0]).promiseText + "\n");
    return 0;
  }
  if (first.startsWith("-")) {
    throw new UsageError(`Unknown option "${first}"; try grid --help`);
  }

  const node = await open(builtins);
  const entry = lookup(node.symbols, first);
  if (entry.kind !== "builtin") {
    // A module by hash: fetched through the kernel, verified, run sandboxed here (#5).
    prepareModuleRun(node, first, entry);
  }
  const forwarded = await forwardToAgent(node, entry, rest, io);
  if (forwarded !== undefined) return forwarded;
  const abort = new AbortController();
  const stop = () => abort.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const reply = await node.kernel.call([entry.promise, entry.module, ...rest], {
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

async function helpText(registry: Builtins): Promise<string> {
  const builtins = await registry.load();
  const width = Math.max(...builtins.map((b) => b.command.usage.length));
  const lines = builtins.map((b) => `  ${b.command.usage.padEnd(width)}  ${b.command.summary}`);
  return [
    "grid: a promise-based network agent; deploys and manages a WireGuard mesh with no central server",
    "",
    "Usage: grid {promise} [arg ...]",
    "",
    ...lines,
    `  ${"grid --show SUBCOMMAND".padEnd(width)}  print the promise a subcommand makes`,
    "",
    "GRID_HOME overrides ~/.grid.",
    "",
  ].join("\n");
}
