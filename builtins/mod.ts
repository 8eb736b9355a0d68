/**
 * What the binary embeds: the builtin commands, the node bootstrap and the
 * command line that ties them to the kernel.
 *
 * @example
 * ```ts
 * import { runCli } from "./mod.ts";
 * Deno.exit(await runCli(Deno.args));
 * ```
 *
 * @module
 */
export { runCli, terminalIo, VERSION } from "./_cli.ts";
export { type GridNode, openNode, type OpenNodeOptions } from "./_node.ts";
export { BufferIo, type Command, type CommandContext, commandModule } from "./_command.ts";
export { BUILTIN_FILES, type BuiltinCommand, loadBuiltins } from "./_registry.ts";
