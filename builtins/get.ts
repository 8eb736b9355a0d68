/**
 * `grid get HASH`: writes the content with that hash to standard output,
 * from the local store or, through the kernel, from wherever it can be had.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { parseFlags } from "./_flags.ts";

/** The get command. */
export const command: Command = {
  name: "get",
  promise:
    "I ask for the content with this hash, and I promise to verify it against the hash before I use it and to share what I verify with my peers.",
  usage: "grid get HASH",
  summary: "write the content with this hash to standard output",
  group: "content",
  options: [
    ["HASH", "the content's hash; fetched from peers (and verified) when not stored here"],
  ],
  async run(args, ctx) {
    const [hash] = (await parseFlags(args, {}, "grid get HASH", { min: 1, max: 1 })).positionals;
    const { getMessage, isAccept, parseHash, RejectedError, rejectReason } = await import(
      "../kernel/mod.ts"
    );
    const cid = parseHash(hash);
    const reply = await ctx.call(getMessage(cid));
    if (!isAccept(reply)) {
      const { code, reason } = rejectReason(reply);
      throw new RejectedError(code, `Cannot get "${hash}": ${reason}`);
    }
    await ctx.io.stdout(reply[1] as Uint8Array);
    return 0;
  },
};
