/**
 * Wiring for `grid NAME` when NAME is a module by hash: the command line
 * registers the module with its own kernel (sandboxed, with the executors
 * for every kind) and, so that a module this node lacks can come from peers,
 * a link to the agent running for the same home.
 *
 * @module
 */
import {
  type Cas,
  ConfigError,
  controlSocketPath,
  type ExecLimits,
  type GridHome,
  type Kernel,
  type SymbolEntry,
} from "../../kernel/mod.ts";
import { defaultExecutors, installModule } from "./sandbox_module.ts";
import { agentLinkModule } from "./agent_link.ts";

/** The parts of an open node the wiring needs. */
export interface ModuleNode {
  /** The kernel the module is registered with. */
  readonly kernel: Kernel;
  /** The home (allow list, native files, the agent's socket). */
  readonly home: GridHome;
  /** The node's store (its drop count names a bad stored copy). */
  readonly cas: Cas;
}

/** Limits from `GRID_MODULE_TIMEOUT_MS` (others keep their defaults). */
export function envLimits(
  env: { get(name: string): string | undefined } = Deno.env,
): ExecLimits {
  const text = env.get("GRID_MODULE_TIMEOUT_MS");
  if (text === undefined || text === "") return {};
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new ConfigError(`Invalid GRID_MODULE_TIMEOUT_MS "${text}": use milliseconds`);
  }
  return { timeoutMs: ms };
}

/**
 * Registers `name` (a non-builtin entry) with the node's kernel so that
 * `kernel.call([entry.promise, entry.module, ...args])` fetches, verifies and
 * runs it; also links the kernel to a running agent for fetches by hash.
 */
export function prepareModuleRun(node: ModuleNode, name: string, entry: SymbolEntry): void {
  if (!Deno.env.get("GRID_NO_AGENT")) {
    node.kernel.register(agentLinkModule(controlSocketPath(node.home.root)));
  }
  installModule(node.kernel, name, entry, {
    executors: defaultExecutors(node.home),
    droppedCount: () => node.cas.dropped,
    limits: envLimits(),
  });
}
