/**
 * What the binary embeds: the builtin commands, one file each, each carrying
 * its promise text. This folder's face is the registry ({@link BUILTINS});
 * main.ts hands it to the command line (agent/), which wraps each command as
 * a kernel module. Commands import only the type-only contract
 * (`_command.ts`), never the command line or the agent. A command file
 * loads its description only; what it runs with it imports when it runs.
 *
 * @example
 * ```ts
 * import { BUILTINS } from "./mod.ts";
 * import { runCli } from "../agent/mod.ts";
 * Deno.exit(await runCli(Deno.args, { builtins: BUILTINS }));
 * ```
 *
 * @module
 */
export {
  BUILTIN_FILES,
  type BuiltinCommand,
  type BuiltinFile,
  BUILTINS,
  type Builtins,
  commandNameOf,
  loadBuiltins,
  loadCommands,
  loadFiles,
} from "./_registry.ts";
export type { AgentRun, Command, CommandContext, NodeHandle } from "./_command.ts";
