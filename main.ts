/**
 * grid: the command line. Parses nothing itself; hands off to the builtins.
 *
 * @module
 */
import { runCli } from "./builtins/mod.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
