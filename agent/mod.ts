/**
 * The composition root: it opens a node (home, store, kernel, the builtin
 * commands as kernel modules, the symbol table), runs the command line, and
 * runs the long-lived agent (peers, the control socket, the services such as
 * the WireGuard mesh). It is the one folder that knows every other; nothing
 * imports it but main.ts.
 *
 * @example
 * ```ts
 * import { runCli } from "./mod.ts";
 * import { BUILTINS } from "../builtins/mod.ts";
 * Deno.exit(await runCli(Deno.args, { builtins: BUILTINS }));
 * ```
 *
 * @module
 */
export { type CliOptions, runCli, terminalIo, VERSION } from "./cli.ts";
export { type GridNode, openNode, type OpenNodeOptions } from "./node.ts";
export { type AgentOptions, agentRunning, runAgent } from "./agent.ts";
export { exitCodeForCode, exitCodeOf } from "./exit_codes.ts";
