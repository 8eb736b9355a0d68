/**
 * Before/after in one run: runs the same benchmark in a checkout of an older
 * commit and in this tree, interleaved round by round (these machines are
 * noisy; interleaving spreads the noise over both sides), and prints each
 * measurement of each side, the medians and their ratio.
 *
 * Two kinds of benchmark:
 * - `deno bench` files (`--bench FILE`): every bench whose name starts with
 *   one of the `--match` prefixes, by its average time per iteration;
 * - table-printing scripts (`--script FILE --column NAME`): the given column
 *   of the last Markdown table row the script prints.
 *
 * `--head REF` measures a commit instead of this working tree.
 *
 * Usage:
 *   deno run --allow-all bench/compare_commits.ts --base 8ce2918 --bench bench/membership_bench.ts --match "fold a net of"
 *   deno run --allow-all bench/compare_commits.ts --base 8ce2918 --script bench/mesh_bench.ts --args="--sizes 20" --column "all joins (ms)" --rounds 2
 *
 * @module
 */
import { parseArgs } from "node:util";
import { median, printTable } from "./_table.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

async function sh(cmd: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
    );
  }
  return text;
}

/** Average ns per iteration of each bench in `deno bench --json` output, by name. */
function benchTimes(json: string): Map<string, number> {
  const out = new Map<string, number>();
  const report = JSON.parse(json);
  for (const b of report.benches ?? []) {
    const ok = b.results?.[0]?.ok;
    if (ok) out.set(b.name, ok.avg);
  }
  return out;
}

/** The value of `column` in the last data row of the last Markdown table in `text`. */
function tableValue(text: string, column: string): number | undefined {
  const lines = text.split("\n").filter((l) => l.trim().startsWith("|"));
  const header = lines.find((l) => l.includes(column));
  if (!header) return undefined;
  const cells = (l: string) => l.split("|").slice(1, -1).map((c) => c.trim());
  const index = cells(header).indexOf(column);
  const rows = lines.filter((l) => l !== header && !/^\|[\s:-]+\|/.test(l));
  const last = rows.at(-1);
  return last === undefined ? undefined : Number(cells(last)[index]);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      base: { type: "string" },
      head: { type: "string" },
      bench: { type: "string" },
      match: { type: "string", multiple: true },
      script: { type: "string" },
      args: { type: "string", default: "" },
      column: { type: "string", multiple: true },
      rounds: { type: "string", default: "3" },
    },
  });
  const columns = values.column ?? [];
  if (!values.base || (!values.bench && !(values.script && columns.length > 0))) {
    console.error(
      "Usage: compare_commits.ts --base REF (--bench FILE --match PREFIX... | --script FILE --column NAME... [--args=ARGS]) [--rounds N]",
    );
    Deno.exit(2);
  }
  const baseDir = await Deno.makeTempDir({ prefix: "grid-base-" });
  await sh(["git", "worktree", "add", "--detach", baseDir, values.base], ROOT);
  // --head REF measures that commit instead of the working tree (which may change meanwhile).
  const headDir = values.head ? await Deno.makeTempDir({ prefix: "grid-head-" }) : ROOT;
  if (values.head) await sh(["git", "worktree", "add", "--detach", headDir, values.head], ROOT);
  const sides = [["before", baseDir], ["after", headDir]] as const;
  const results = new Map<string, { before: number[]; after: number[] }>();
  const add = (name: string, side: "before" | "after", v: number) => {
    const r = results.get(name) ?? { before: [], after: [] };
    r[side].push(v);
    results.set(name, r);
  };
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [side, dir] of round % 2 ? [...sides].reverse() : sides) {
        console.error(`compare: round ${round + 1}, ${side}`);
        if (values.bench) {
          const json = await sh(
            ["deno", "bench", "--allow-all", "--unstable-worker-options", "--json", values.bench],
            dir,
          );
          for (const [name, ns] of benchTimes(json)) {
            const prefix = (values.match ?? []).find((p) => name.startsWith(p));
            if (prefix === undefined) continue;
            // Names may differ in their tail between commits (record counts): key by prefix + size.
            const key = name.replace(/\s*\(.*\)$/, "");
            add(key, side, ns / 1000);
          }
        } else {
          const text = await sh(
            [
              "deno",
              "run",
              "--allow-all",
              values.script!,
              ...values.args.split(" ").filter(Boolean),
            ],
            dir,
          );
          for (const column of columns) {
            const v = tableValue(text, column);
            if (v !== undefined && !Number.isNaN(v)) add(column, side, v);
          }
        }
      }
    }
  } finally {
    await sh(["git", "worktree", "remove", "--force", baseDir], ROOT).catch(() => "");
    if (values.head) {
      await sh(["git", "worktree", "remove", "--force", headDir], ROOT).catch(() => "");
    }
  }
  const unit = values.bench ? "µs" : "";
  printTable(
    ["measure", `before (${values.base}) ${unit}`, `after ${unit}`, "median after / before"],
    [...results].map(([name, r]) => [
      name,
      r.before.map((v) => v.toFixed(1)).join(", "),
      r.after.map((v) => v.toFixed(1)).join(", "),
      r.before.length && r.after.length ? (median(r.after) / median(r.before)).toFixed(2) : "-",
    ]),
  );
}
