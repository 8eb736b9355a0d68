/**
 * `grid symbols [--json]` lists the symbol table config names: name, module
 * hash, kind and promise. `grid symbols use HASH [NAME...]` adopts the
 * non-builtin entries of another node's table, fetched by its hash (from the
 * local store or, through the kernel, from peers) and verified; the result is
 * a new table, and the old one stays in the CAS.
 *
 * @module
 */
import type { CID, SymbolTable } from "../kernel/mod.ts";
import { UsageError } from "../kernel/base/mod.ts";
import type { Command, CommandContext } from "./_command.ts";
import { flagSet, parseFlags } from "./_flags.ts";

const USAGE = "grid symbols [--json] | grid symbols use HASH [NAME...]";
const PROMISE_WIDTH = 72;

/** Spells a hash (the kernel's hashToText, loaded when the command runs). */
type HashToText = (cid: CID) => string;

/** The rows `grid symbols` prints, sorted by name. */
export function symbolRows(table: SymbolTable, hashToText: HashToText): string[][] {
  return [...table.keys()].sort().map((name) => {
    const e = table.get(name)!;
    return [name, hashToText(e.module), e.kind, e.promiseText];
  });
}

/** An aligned text table with a header; promises are cut to one short line. */
export function formatSymbols(table: SymbolTable, hashToText: HashToText): string {
  const rows = [
    ["NAME", "MODULE", "KIND", "PROMISE"],
    ...symbolRows(table, hashToText).map(([n, h, k, p]) => {
      const line = p.replace(/\s+/g, " ");
      return [
        n,
        h,
        k,
        line.length > PROMISE_WIDTH ? line.slice(0, PROMISE_WIDTH - 3) + "..." : line,
      ];
    }),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") +
    "\n";
}

async function list(ctx: CommandContext, json: boolean): Promise<number> {
  const [{ hashToText }, { currentSymbols }] = await Promise.all([
    import("../kernel/mod.ts"),
    import("../modules/exec/mod.ts"),
  ]);
  const { table, hash } = await currentSymbols(ctx.node.home, ctx.node.cas);
  if (json) {
    const names = symbolRows(table, hashToText).map(([name, module, kind, promise]) => ({
      name,
      module,
      kind,
      promise,
    }));
    await ctx.io.stdout(JSON.stringify({ symbols: hash ?? null, names }) + "\n");
  } else {
    await ctx.io.stdout(formatSymbols(table, hashToText));
  }
  return 0;
}

async function use(ctx: CommandContext, text: string, names: string[]): Promise<number> {
  const [
    { decodeSymbols, getMessage, hashToText, isAccept, parseHash, RejectedError, rejectReason },
    { adoptEntries, commitSymbols, currentSymbols },
  ] = await Promise.all([import("../kernel/mod.ts"), import("../modules/exec/mod.ts")]);
  const cid = parseHash(text);
  const reply = await ctx.call(getMessage(cid));
  if (!isAccept(reply) || !(reply[1] instanceof Uint8Array)) {
    const { code, reason } = rejectReason(reply);
    throw new RejectedError(code, `Cannot fetch symbol table "${text}": ${reason}`);
  }
  const other = decodeSymbols(reply[1]);
  const { table } = await currentSymbols(ctx.node.home, ctx.node.cas);
  const { table: merged, adopted, skipped } = adoptEntries(table, other, names);
  for (const s of skipped) ctx.io.stderr(`grid: skipped "${s.name}": ${s.why}`);
  if (adopted.length === 0) throw new UsageError(`Nothing to adopt from symbol table "${text}"`);
  const symbols = await commitSymbols(ctx.node.home, ctx.node.cas, merged);
  await ctx.io.stdout(`adopted ${adopted.join(" ")}\nsymbols ${hashToText(symbols)}\n`);
  return 0;
}

/** The symbols command. */
export const command: Command = {
  name: "symbols",
  promise:
    "I ask this node to show me the names it resolves and the hashes they name, or to adopt names from a symbol table I chose by its hash; I promise to run what I adopt only as its grant allows.",
  usage: USAGE,
  summary: "list the symbol table, or adopt names from another table by its hash",
  group: "content",
  options: [
    ["--json", "the table as JSON"],
    ["use HASH [NAME...]", "adopt names (all, or these) from another table by its hash"],
  ],
  async run(args, ctx) {
    if (args[0] === "use") {
      const [hash, ...names] = (await parseFlags(args.slice(1), {}, USAGE, {
        min: 1,
        max: Infinity,
      })).positionals;
      return await use(ctx, hash, names);
    }
    const flags = await parseFlags(args, { json: { type: "boolean" } }, USAGE, { min: 0, max: 0 });
    return await list(ctx, flagSet(flags, "json"));
  },
};
