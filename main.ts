/**
 * grid: the command line. Parses nothing itself; hands the arguments and the
 * binary's builtin commands to the composition root (agent/).
 *
 * @module
 */
import { runCli } from "./agent/mod.ts";
import { BUILTINS } from "./builtins/mod.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, { builtins: BUILTINS }));
}
