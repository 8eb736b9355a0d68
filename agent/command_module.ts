/**
 * How a builtin command becomes a kernel module: its module hash is the hash
 * of the command file's own bytes (so the symbol table names exactly that
 * code), and the module fills the command's context from the node.
 *
 * @module
 */
import {
  accept,
  type CallContext,
  CID,
  GridError,
  type Io,
  type Module,
  oneLine,
  type Parms,
  reject,
  rejectCodeOf,
} from "../kernel/mod.ts";
import type { AgentRun, Command, NodeHandle } from "../builtins/mod.ts";

/** Collects output when a command runs without a terminal (e.g. for a remote caller). */
export class BufferIo implements Io {
  #out: Uint8Array[] = [];
  #err: string[] = [];
  /** Keeps `data` for {@link output}. */
  stdout(data: Uint8Array | string): Promise<void> {
    this.#out.push(typeof data === "string" ? new TextEncoder().encode(data) : data);
    return Promise.resolve();
  }
  /** Keeps `line` for {@link errors}. */
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

/** What a command module needs from the node that runs it. */
export interface CommandHost {
  /** The node (home and store). */
  node(): NodeHandle;
  /** Runs the agent in this process. */
  runAgent(run: AgentRun): Promise<void>;
}

/**
 * Wraps a command as a module. Its reply is `[ACCEPT, exitCode]` when the
 * caller has a terminal, else `[ACCEPT, exitCode, stdoutBytes, stderrText]`.
 * A clear failure (a GridError) is a reject carrying its code and one line.
 */
export function commandModule(command: Command, id: CID, host: CommandHost): Module {
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
          node: host.node(),
          io,
          signal: ctx.signal ?? new AbortController().signal,
          call: ctx.call,
          runAgent: (run) => host.runAgent(run),
        });
        return io instanceof BufferIo ? accept(code, io.output(), io.errors()) : accept(code);
      } catch (err) {
        if (err instanceof GridError) return reject(err.code, oneLine(err));
        return reject(rejectCodeOf(err), `Command "${command.name}" failed: ${oneLine(err)}`);
      }
    },
  };
}
