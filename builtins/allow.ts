/**
 * `grid allow HASH`: the operator allows this node to run the native module
 * with that hash (kept in `$GRID_HOME/allowed`, written atomically).
 * JavaScript and WebAssembly modules need no allowing: they run sandboxed.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { parseFlags } from "./_flags.ts";

/** The allow command. */
export const command: Command = {
  name: "allow",
  promise:
    "I am this node's operator and I allow it to run the native module with this hash, with my user's authority; I promise I have checked that code and take responsibility for running it.",
  usage: "grid allow HASH",
  summary: "allow this node to run the native module with this hash",
  group: "content",
  options: [
    ["HASH", "the native module's hash, as `grid symbols` shows it"],
  ],
  async run(args, ctx) {
    const [hash] = (await parseFlags(args, {}, "grid allow HASH", { min: 1, max: 1 })).positionals;
    const [{ hashToText, parseHash }, { allowHash }] = await Promise.all([
      import("../kernel/mod.ts"),
      import("../modules/exec/mod.ts"),
    ]);
    const cid = parseHash(hash);
    const added = await allowHash(ctx.node.home, cid);
    await ctx.io.stdout(`${added ? "allowed" : "already allowed"} ${hashToText(cid)}\n`);
    return 0;
  },
};
