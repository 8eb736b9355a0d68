/**
 * Modules by hash: the executors (JavaScript in permission-less Workers,
 * WebAssembly with the grid host interface, native executables the operator
 * allowed), the kernel module that runs a symbol entry, the operator's allow
 * list, and symbol-table edits. See docs/modules.md.
 *
 * @example
 * ```ts
 * import { defaultExecutors, installModule } from "./mod.ts";
 * // installModule(node.kernel, "hello", entry, { executors: defaultExecutors(node.home) });
 * // await node.kernel.call([entry.promise, entry.module, "arg"], { io });
 * ```
 *
 * @module
 */
export { WorkerExecutor } from "./worker_executor.ts";
export { WasmExecutor } from "./wasm_executor.ts";
export {
  NATIVE_PATH,
  NativeExecutor,
  type NativeExecutorOptions,
  nativePath,
} from "./native_executor.ts";
export { allowedPath, allowHash, isAllowed, readAllowed } from "./allowed.ts";
export {
  defaultExecutors,
  installModule,
  sandboxModule,
  type SandboxModuleOptions,
} from "./sandbox_module.ts";
export { AGENT_LINK_MODULE, AGENT_LINK_TEXT, agentLinkModule } from "./agent_link.ts";
export {
  adoptEntries,
  type Adoption,
  commitSymbols,
  currentSymbols,
  withEntry,
} from "./symbol_edit.ts";
export { envLimits, type ModuleNode, prepareModuleRun } from "./cli_run.ts";
export { callerModule, type CallerModuleOptions } from "./wasm_builder.ts";
