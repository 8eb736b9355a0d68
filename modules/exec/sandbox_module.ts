/**
 * A module fetched by hash, as a kernel {@link Module}: registering it makes
 * the kernel route its promise to it like to any builtin, and record its
 * accepts and rejects in the syscall tree. Its `accept()` filters on the
 * promises the module declares, fetches the bytes through the kernel (local
 * store, then whatever other module answers a get: the agent, peers), checks
 * them against the hash, and runs them with the executor for their kind,
 * whose only door to the world is the grant-checked host call.
 *
 * @module
 */
import {
  accept,
  type CallContext,
  definePromise,
  ExecError,
  type ExecLimits,
  execute,
  type Executor,
  getMessage,
  GridError,
  type GridHome,
  hashText,
  hashToText,
  hostCall,
  isAccept,
  type Kernel,
  type Module,
  oneLine,
  type Parms,
  reject,
  rejectCodeOf,
  rejectReason,
  type SymbolEntry,
} from "../../kernel/mod.ts";
import { WorkerExecutor } from "./worker_executor.ts";
import { WasmExecutor } from "./wasm_executor.ts";
import { NativeExecutor } from "./native_executor.ts";

/** The executors a node runs modules with: JavaScript, WebAssembly, and allowed native code. */
export function defaultExecutors(home: GridHome): Executor[] {
  return [new WorkerExecutor(), new WasmExecutor(), new NativeExecutor({ home })];
}

/** Options for {@link sandboxModule}. */
export interface SandboxModuleOptions {
  /** Executors by kind. */
  executors: readonly Executor[];
  /** Bounds on each run. */
  limits?: ExecLimits;
  /**
   * Counts store entries dropped for failing their hash (the node's
   * `cas.dropped`), so a refused fetch can say that the local copy was bad.
   */
  droppedCount?: () => number;
}

/** The module's promise and grant as the kernel enforces them. */
function checkEntry(name: string, entry: SymbolEntry): void {
  if (!hashText(entry.promiseText).equals(entry.promise)) {
    throw new ExecError(
      "hash",
      `Symbol entry "${name}" is inconsistent: its promise text does not hash to its promise`,
    );
  }
}

async function fetchModule(
  name: string,
  entry: SymbolEntry,
  ctx: CallContext,
  droppedCount?: () => number,
): Promise<Uint8Array> {
  const before = droppedCount?.() ?? 0;
  const reply = await ctx.call(getMessage(entry.module));
  const hash = hashToText(entry.module);
  if (!isAccept(reply) || !(reply[1] instanceof Uint8Array)) {
    const { code, reason } = rejectReason(reply);
    if ((droppedCount?.() ?? 0) > before) {
      throw new ExecError(
        "hash",
        `Refusing module "${name}": the stored copy of "${hash}" does not match its hash ` +
          `(dropped), and no verified copy was found: ${reason}`,
      );
    }
    throw new GridError(
      code === "not-found" || code === "route" ? "not-found" : "module",
      `Cannot fetch module "${name}" (${hash}): ${reason}`,
    );
  }
  return reply[1];
}

/**
 * The kernel module for one symbol entry. It runs only for this node's own
 * user, accepts only the promises the entry declares, and replies like a
 * command: `[ACCEPT, code]` with a terminal, else `[ACCEPT, code, stdout, stderr]`.
 */
export function sandboxModule(
  name: string,
  entry: SymbolEntry,
  options: SandboxModuleOptions,
): Module {
  checkEntry(name, entry);
  const accepts = entry.accepts ?? [entry.promise];
  const hash = hashToText(entry.module);
  return {
    id: entry.module,
    name,
    promise: entry.promiseText,
    scope: "own",
    async accept(parms: Parms, ctx: CallContext): Promise<Parms> {
      if (!accepts.some((p) => p.equals(parms[0]))) {
        return reject("not-accepted", `Module "${name}" does not accept this promise`);
      }
      if (ctx.origin !== "local") {
        return reject("denied", `Module "${name}" runs only for this node's own user`);
      }
      const args = parms.slice(2);
      if (!args.every((a) => typeof a === "string")) {
        return reject("usage", `Module "${name}" takes text arguments only`);
      }
      try {
        const bytes = await fetchModule(name, entry, ctx, options.droppedCount);
        const result = await execute(options.executors, {
          module: entry.module,
          bytes,
          entry,
          name,
          args: args as string[],
          signal: ctx.signal,
          limits: options.limits,
          host: (request) =>
            hostCall(request, {
              grant: entry.grant ?? [],
              call: (message) => ctx.call(message, { origin: `module:${hash}` }),
            }),
        });
        if (!ctx.io) return accept(result.code, result.stdout, result.stderr);
        if (result.stdout.length > 0) await ctx.io.stdout(result.stdout);
        for (const line of result.stderr.split("\n")) {
          if (line) ctx.io.stderr(line.startsWith(`${name}: `) ? line : `${name}: ${line}`);
        }
        return accept(result.code);
      } catch (err) {
        if (err instanceof GridError) return reject(err.code, oneLine(err));
        return reject(rejectCodeOf(err), `Module "${name}" failed: ${oneLine(err)}`);
      }
    },
  };
}

/**
 * Makes `name` runnable through `kernel`: accepts the entry's promise (after
 * checking it hashes right) and registers its {@link sandboxModule}.
 */
export function installModule(
  kernel: Kernel,
  name: string,
  entry: SymbolEntry,
  options: SandboxModuleOptions,
): Module {
  const module = sandboxModule(name, entry, options);
  kernel.acceptPromise(definePromise({ text: entry.promiseText }));
  kernel.register(module);
  return module;
}
