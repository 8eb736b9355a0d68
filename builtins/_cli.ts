/**
 * The command line: `grid {promise} [arg ...]`. The name is resolved through
 * the symbol table to a module hash and the call goes through the kernel like
 * any other message; `grid --show NAME` prints the promise without running it.
 *
 * @module
 */
import {
  exitCodeForCode,
  exitCodeOf,
  GridError,
  type Io,
  isAccept,
  lookup,
  oneLine,
  rejectReason,
} from "../kernel/mod.ts";
import { openNode } from "./_node.ts";
import { loadBuiltins } from "./_registry.ts";
import { prepareModuleRun } from "../modules/exec/mod.ts";
import { forwardToAgent } from "./_control.ts";

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

/** Runs the command line `argv` (without the program name); returns the exit code. */
export async function runCli(argv: string[], io: Io = terminalIo()): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    io.stderr(`grid: ${oneLine(err)}`);
    if (!(err instanceof GridError) && Deno.env.get("GRID_DEBUG")) console.error(err);
    return exitCodeOf(err);
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    await io.stdout(await helpText());
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    await io.stdout(`grid ${VERSION}\n`);
    return 0;
  }
  if (first === "--show") {
    if (rest.length !== 1) throw new GridError("usage", "Usage: grid --show SUBCOMMAND");
    const node = await openNode();
    await io.stdout(lookup(node.symbols, rest[0]).promiseText + "\n");
    return 0;
  }
  if (first.startsWith("-")) {
    throw new GridError("usage", `Unknown option "${first}"; try grid --help`);
  }

  const node = await openNode();
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

async function helpText(): Promise<string> {
  const builtins = await loadBuiltins();
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
