/**
 * Opens a node: its home, store, kernel and symbol table. Every command and
 * the agent start here, so `deno run` and the compiled binary boot the same way.
 *
 * @module
 */
import {
  Cas,
  casModule,
  DAG_CBOR,
  encodeSymbols,
  ensureHome,
  FsStorage,
  GET_PROMISE,
  getSymbols,
  type GridConfig,
  type GridHome,
  hashBytes,
  hashToText,
  Kernel,
  type KernelOptions,
  type KnownPromise,
  PUT_PROMISE,
  putSymbols,
  readConfig,
  resolveHome,
  type SymbolTable,
  UsageError,
  writeConfig,
} from "../kernel/mod.ts";
import type { AgentRun, BuiltinCommand, Builtins } from "../builtins/mod.ts";
import { commandModule } from "./command_module.ts";

/** A node's open state. */
export interface GridNode {
  /** The node's grid home. */
  readonly home: GridHome;
  /** The node's content store. */
  readonly cas: Cas;
  /** The node's kernel, with the builtins registered. */
  readonly kernel: Kernel;
  /** The symbol table that `config` names. */
  readonly symbols: SymbolTable;
  /** Builtin commands by module hash (text). */
  readonly builtins: ReadonlyMap<string, BuiltinCommand>;
  /** The config as read at open. */
  readonly config: GridConfig;
}

/** Options for {@link openNode}. */
export interface OpenNodeOptions {
  /** The builtin commands to register (main.ts hands in the binary's). */
  builtins: Builtins;
  /** Runs the agent for a command that asks for it (`serve`, a foreground join). */
  runAgent?: (node: GridNode, run: AgentRun) => Promise<void>;
  /** Use this home instead of `$GRID_HOME` / `~/.grid`. */
  home?: GridHome;
  /** Kernel event log. */
  log?: KernelOptions["log"];
}

/**
 * Opens (creating if needed) the node's home, registers the store and the
 * builtin commands with a new kernel, and makes sure `config` names a symbol
 * table that holds the current builtins.
 */
export async function openNode(options: OpenNodeOptions): Promise<GridNode> {
  const home = options.home ?? resolveHome();
  await ensureHome(home);
  const cas = new Cas(new FsStorage(home.cache));
  const builtins = await options.builtins.load();
  const promises: KnownPromise[] = [GET_PROMISE, PUT_PROMISE, ...builtins.map((b) => b.promise)];
  const kernel = new Kernel({ promises, modules: [casModule(cas)], log: options.log });
  const config = await readConfig(home);
  const symbols = await ensureSymbols(home, cas, config, builtins);
  const node: GridNode = {
    home,
    cas,
    kernel,
    symbols,
    builtins: new Map(builtins.map((b) => [hashToText(b.module), b])),
    config,
  };
  const host = {
    node: () => node,
    runAgent: (run: AgentRun) =>
      options.runAgent
        ? options.runAgent(node, run)
        : Promise.reject(new UsageError("This command line cannot run an agent")),
  };
  for (const b of builtins) kernel.register(commandModule(b.command, b.module, host));
  return node;
}

/**
 * Returns the table `config` names. When the builtins changed since it was
 * written (a new binary), writes a new table: current builtins plus every
 * non-builtin entry of the old one; the old table stays in the CAS untouched.
 */
async function ensureSymbols(
  home: GridHome,
  cas: Cas,
  config: GridConfig,
  builtins: BuiltinCommand[],
): Promise<SymbolTable> {
  const builtinTable: SymbolTable = new Map(
    builtins.map((b) => [b.command.name, {
      module: b.module,
      promise: b.promise.cid,
      promiseText: b.command.promise,
      kind: "builtin" as const,
    }]),
  );
  // Hash only: every command line opens the node, and an unchanged table needs no write.
  const builtinHash = hashToText(hashBytes(encodeSymbols(builtinTable), DAG_CBOR));
  if (config.symbols && config.builtins === builtinHash) {
    return await getSymbols(cas, config.symbols);
  }
  await putSymbols(cas, builtinTable);
  const table: SymbolTable = new Map(builtinTable);
  if (config.symbols) {
    // An old table that cannot be read (gone from the store, corrupt) is rebuilt from the builtins.
    const old = await getSymbols(cas, config.symbols).catch(() => new Map() as SymbolTable);
    for (const [name, entry] of old) if (entry.kind !== "builtin") table.set(name, entry);
  }
  const symbols = hashToText(await putSymbols(cas, table));
  config.symbols = symbols;
  config.builtins = builtinHash;
  await writeConfig(home, config);
  return table;
}
