/**
 * Builds the single grid executable: `deno compile` with `builtins/` and the
 * dashboard's page (`modules/dashboard/assets/`) embedded
 * and the release permission set and V8 settings baked in. `deno compile` needs `denort`; it
 * downloads it unless `DENORT_BIN` names a local copy. Machines without
 * internet must set `DENORT_BIN`, and this script says so when that is the cause.
 *
 * Usage: deno task compile [--target TRIPLE] [--output PATH]
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The permissions the release binary gets: the same set `deno task grid` uses. */
export const RELEASE_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys=hostname,loadavg,osRelease,uid",
  "--allow-run=wg,ip,wireguard-go",
  "--unstable-worker-options",
];

/**
 * The release binary's V8 settings: semi-spaces of 1 MB (the young
 * generation's default grows to 16 MB). An agent is mostly idle between
 * small messages; measured on 20-node labs this keeps about a quarter of each
 * agent's private memory, with bursts of joins no slower (docs/BENCHMARKS.md).
 */
export const RELEASE_V8_FLAGS = ["--v8-flags=--max-semi-space-size=1"];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string" }, output: { type: "string" } },
  });
  const output = values.output ?? `dist/grid${values.target ? `-${values.target}` : ""}`;
  const args = [
    "compile",
    ...RELEASE_V8_FLAGS,
    ...RELEASE_PERMISSIONS,
    "--include",
    "builtins",
    "--include",
    "modules/dashboard/assets",
    "--output",
    output,
    ...(values.target ? ["--target", values.target] : []),
    "main.ts",
  ];
  const denort = Deno.env.get("DENORT_BIN");
  console.error(`grid: compiling ${output}${denort ? ` with DENORT_BIN=${denort}` : ""}`);
  const result = await new Deno.Command(Deno.execPath(), { args, stderr: "piped" }).output();
  const err = new TextDecoder().decode(result.stderr);
  Deno.stderr.writeSync(result.stderr);
  if (!result.success) {
    if (!denort && /denort|download|dl\.deno\.land|network|dns|connect/i.test(err)) {
      console.error(
        "grid: deno compile could not download denort (this machine has no internet); set DENORT_BIN to a local denort binary of the same Deno version",
      );
    }
    Deno.exit(result.code || 1);
  }
  console.error(`grid: built ${output}`);
}
