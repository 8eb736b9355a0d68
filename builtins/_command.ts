/**
 * What a builtin command is, and how one becomes a kernel module: each command
 * file carries its promise text and a `run` function; its module hash is the
 * hash of the file's own bytes, so the symbol table names exactly that code.
 *
 * @module
 */
import {
  accept,
  type CallContext,
  CID,
  exitCodeOf,
  GridError,
  type Io,
  type Module,
  oneLine,
  type Parms,
  reject,
  rejectCodeOf,
} from "../kernel/mod.ts";
import type { GridNode } from "./_node.ts";

/** A subcommand, as a builtin module. */
export interface Command {
  /** The name users type: `grid NAME`. */
  readonly name: string;
  /** The promise the caller makes by running it; `grid --show NAME` prints it. */
  readonly promise: string;
  /** One usage line, e.g. `grid put FILE`. */
  readonly usage: string;
  /** One line saying what it does. */
  readonly summary: string;
  /** Runs in the caller's own process, never forwarded to a running agent (e.g. `serve`). */
  readonly foreground?: boolean;
  /** Its arguments may name local files: made absolute before it is forwarded to an agent. */
  readonly fileArgs?: boolean;
  /** Runs it; returns the exit code. Throws GridError for clear failures. */
  run(args: string[], ctx: CommandContext): Promise<number>;
}

/** What a running command may use. */
export interface CommandContext {
  /** The node: home, store, kernel, symbols. */
  readonly node: GridNode;
  /** The caller's terminal. */
  readonly io: Io;
  /** Aborted when the command should stop (Ctrl-C, agent shutdown). */
  readonly signal: AbortSignal;
  /** Sends a message through the kernel (same governance and routing as any other). */
  readonly call: CallContext["call"];
}

/** Collects output when a command runs without a terminal (e.g. for a remote caller). */
export class BufferIo implements Io {
  #out: Uint8Array[] = [];
  #err: string[] = [];
  stdout(data: Uint8Array | string): Promise<void> {
    this.#out.push(typeof data === "string" ? new TextEncoder().encode(data) : data);
    return Promise.resolve();
  }
  stderr(line: string): void {
    this.#err.push(line);
  }
  /** Everything written to stdout, joined. */
  output(): Uint8Array {
    const total = this.#out.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const chunk of this.#out) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all;
  }
  /** Everything written to stderr, one line each. */
  errors(): string {
    return this.#err.join("\n");
  }
}

/**
 * Wraps a command as a module. Its reply is `[ACCEPT, exitCode]` when the
 * caller has a terminal, else `[ACCEPT, exitCode, stdoutBytes, stderrText]`.
 * A clear failure (a GridError) is a reject carrying its code and one line.
 */
export function commandModule(
  command: Command,
  id: CID,
  node: () => GridNode,
): Module {
  return {
    id,
    name: command.name,
    promise: command.promise,
    scope: "own",
    async accept(parms: Parms, ctx: CallContext): Promise<Parms> {
      if (ctx.origin !== "local") {
        return reject("denied", `Command "${command.name}" runs only for this node's own user`);
      }
      const args = parms.slice(2);
      if (!args.every((a) => typeof a === "string")) {
        return reject("usage", `Command "${command.name}" takes text arguments only`);
      }
      const io = ctx.io ?? new BufferIo();
      try {
        const code = await command.run(args as string[], {
          node: node(),
          io,
          signal: ctx.signal ?? new AbortController().signal,
          call: ctx.call,
        });
        return io instanceof BufferIo ? accept(code, io.output(), io.errors()) : accept(code);
      } catch (err) {
        if (err instanceof GridError) return reject(err.code, oneLine(err));
        return reject(rejectCodeOf(err), `Command "${command.name}" failed: ${oneLine(err)}`);
      }
    },
  };
}

export { exitCodeOf };
