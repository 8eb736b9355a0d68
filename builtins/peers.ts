/**
 * `grid peers add URL` and `grid peers list [--json]`: the peer URLs this
 * node dials (kept in `$GRID_HOME/peers`, one per line) and, when an agent
 * runs, how each peer is doing.
 *
 * @module
 */
import { UsageError } from "../kernel/base/mod.ts";
import type { PeerRow } from "../kernel/peers/mod.ts";
import type { Command, CommandContext } from "./_command.ts";
import { flagSet, parseFlags } from "./_flags.ts";

const USAGE = "grid peers add URL | grid peers list [--json]";

/** The peers command. */
export const command: Command = {
  name: "peers",
  promise:
    "I promise that the peer URLs I add are ones I chose to trust with this node's lookups, and I ask this node to remember them and keep a connection to each.",
  usage: USAGE,
  summary: "add a peer URL to dial, or list peers and their state",
  group: "peers",
  options: [
    ["add URL", "dial this ws:// URL and keep it in the peers file"],
    ["list [--json]", "every peer and its state"],
  ],
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === "add") {
      return await add((await parseFlags(rest, {}, USAGE, { min: 1, max: 1 })).positionals[0], ctx);
    }
    if (sub === "list") {
      const flags = await parseFlags(rest, { json: { type: "boolean" } }, USAGE, {
        min: 0,
        max: 0,
      });
      return await list(ctx, flagSet(flags, "json"));
    }
    throw new UsageError(`Usage: ${USAGE}`);
  },
};

async function add(text: string, ctx: CommandContext): Promise<number> {
  const [
    { isAccept, withFileLock, writeTextFileAtomic },
    { parsePeerUrl, peersDialMessage, readPeerUrls },
  ] = await Promise.all([import("../kernel/mod.ts"), import("../kernel/peers/mod.ts")]);
  const url = parsePeerUrl(text);
  const path = ctx.node.home.peers;
  // Under the file's lock: two `peers add` at once both land.
  const added = await withFileLock(path, async () => {
    const urls = (await readPeerUrls(path)).map((line) => normalise(line, parsePeerUrl));
    if (urls.includes(url)) return false;
    const existing = await Deno.readTextFile(path).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return ""; // no peers file yet: start one
      throw err;
    });
    const sep = existing.length === 0 || existing.endsWith("\n") ? "" : "\n";
    await writeTextFileAtomic(path, `${existing}${sep}${url}\n`, { mode: 0o600 });
    return true;
  });
  if (!added) {
    await ctx.io.stdout(`${url} is already listed\n`);
    return 0;
  }
  const reply = await ctx.call(peersDialMessage(url));
  const note = isAccept(reply) ? "dialling now" : "dialled when the agent starts";
  await ctx.io.stdout(`${url} (${note})\n`);
  return 0;
}

/** A listed URL in normal form (by `parse`), so hand-written lines dedupe too. */
function normalise(line: string, parse: (text: string) => string): string {
  try {
    return parse(line);
  } catch {
    return line; // not a valid URL: compare it as written
  }
}

async function list(ctx: CommandContext, json: boolean): Promise<number> {
  const { peersListMessage, readPeerRows, readPeerUrls } = await import("../kernel/peers/mod.ts");
  const fromAgent = readPeerRows(await ctx.call(peersListMessage()));
  const rows: PeerRow[] = fromAgent?.rows ??
    (await readPeerUrls(ctx.node.home.peers)).map((url) => ({
      url,
      id: null,
      state: "stopped" as const,
      direction: "out" as const,
      score: 0,
      error: "no agent running",
    }));
  if (json) {
    await ctx.io.stdout(JSON.stringify({ self: fromAgent?.selfId ?? null, peers: rows }) + "\n");
    return 0;
  }
  if (!fromAgent) ctx.io.stderr("grid: no agent is running; showing the peers file");
  const table = [
    ["URL", "NODE", "STATE", "DIRECTION", "SCORE"],
    ...rows.map((r) => [r.url ?? "-", r.id ?? "-", r.state, r.direction, String(r.score)]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const lines = table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  await ctx.io.stdout(lines.join("\n") + "\n");
  return 0;
}
