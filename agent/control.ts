/**
 * The command line's side of the control channel: when an agent runs for
 * this grid home, a builtin command is sent to it as a message and its
 * output printed here, so commands see the agent's peers and state.
 *
 * Not forwarded: commands marked `foreground` (e.g. `serve`), and any call
 * with a `-` argument (standard input belongs to this process). For commands
 * marked `fileArgs` (e.g. `put`), arguments that name an existing file
 * relative to the current directory are made absolute first, because the
 * agent runs in its own directory; other commands' arguments pass as typed
 * (a net called "bench" stays "bench" even where a folder of that name is).
 *
 * Built on the kernel's base only (frames in the CBOR subset, hashes by Web
 * Crypto): a command the agent answers loads neither the kernel nor npm.
 *
 * @module
 */
import {
  ACCEPT_TEXT,
  callAgentPlain,
  type CidBytes,
  controlSocketPath,
  type SubsetValue,
  textCid,
} from "../kernel/base/mod.ts";
import type { Io } from "../kernel/mod.ts";
import type { Command } from "../builtins/mod.ts";
import { exitCodeForCode } from "./exit_codes.ts";

/** Makes `arg` absolute when it names an existing file relative to the current directory. */
async function absolutize(arg: string): Promise<string> {
  if (arg.startsWith("/") || arg.startsWith("-") || /^[a-z][a-z0-9+.-]*:/i.test(arg)) return arg;
  if (arg.length > 255) return arg; // longer than any file name (e.g. an invite token): not a path
  try {
    if (!(await Deno.stat(arg)).isFile) return arg;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return arg; // not a file here: pass it as it is
    throw err;
  }
  return `${Deno.cwd()}/${arg}`;
}

/** A forwarded command still running after this long says so. */
const SLOW_MS = 2000;

/** A builtin command as the symbol table names it. */
export interface ForwardTarget {
  /** Hash of the command's promise (the message's slot 0). */
  readonly promise: CidBytes;
  /** Hash of the command's module (slot 1). */
  readonly module: CidBytes;
  /** The command. */
  readonly command: Command;
}

let acceptPromise: Promise<CidBytes> | undefined;

/**
 * Runs the command through the agent of the home at `root` and returns its
 * exit code, or undefined when it should run in this process (no agent, or
 * not forwardable).
 */
export async function forwardToAgent(
  root: string,
  target: ForwardTarget,
  args: string[],
  io: Io,
): Promise<number | undefined> {
  const { command } = target;
  if (command.foreground || args.includes("-")) return undefined;
  if (Deno.env.get("GRID_NO_AGENT")) return undefined;
  const forwarded = command.fileArgs ? await Promise.all(args.map(absolutize)) : args;
  const parms: SubsetValue[] = [target.promise, target.module, ...forwarded];
  // A slow step (a join waiting for its admission) says so on a terminal, once, after a moment.
  // AbortSignal.timeout, not setTimeout: Deno's setTimeout is node:timers, whose first use loads
  // a part of its Node layer (about 4 ms; docs/bench-cli.md). Its timer does not hold the process.
  const slow = AbortSignal.timeout(SLOW_MS);
  const notice = () => {
    if (Deno.stderr.isTerminal()) {
      io.stderr(`grid: the agent is working on ${command.name} (Ctrl-C leaves it to finish)…`);
    }
  };
  slow.addEventListener("abort", notice, { once: true });
  let reply: SubsetValue[] | undefined;
  try {
    reply = await callAgentPlain(controlSocketPath(root), parms);
  } finally {
    slow.removeEventListener("abort", notice);
  }
  if (!reply) return undefined;
  acceptPromise ??= textCid(ACCEPT_TEXT);
  if (!(await acceptPromise).equals(reply[0])) {
    // As rejectReason (kernel/promises.ts) reads a reject, a malformed one included.
    const code = typeof reply[1] === "string" ? reply[1] : "internal";
    const reason = typeof reply[2] === "string" ? reply[2] : "rejected without a reason";
    io.stderr(`grid: ${reason}`);
    return exitCodeForCode(code);
  }
  const [, code, out, err] = reply;
  if (out instanceof Uint8Array && out.length > 0) await io.stdout(out);
  if (typeof err === "string" && err.length > 0) io.stderr(err);
  return typeof code === "number" ? code : 0;
}
