/**
 * The composition root: it opens a node (home, store, kernel, the builtin
 * commands as kernel modules, the symbol table), runs the command line, and
 * runs the long-lived agent (peers, the control socket, the services such as
 * the WireGuard mesh). It is the one folder that knows every other; nothing
 * imports it but main.ts.
 *
 * Its face is the command line alone, which loads the node and the agent
 * (node.ts, agent.ts) only when a command needs them: a command that a
 * running agent answers, help and version load no more than the kernel's
 * base (docs/bench-cli.md).
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
export { exitCodeForCode, exitCodeOf } from "./exit_codes.ts";
