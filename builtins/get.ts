/**
 * `grid get HASH`: writes the content with that hash to standard output,
 * from the local store or, through the kernel, from wherever it can be had.
 *
 * @module
 */
import {
  getMessage,
  isAccept,
  parseHash,
  RejectedError,
  rejectReason,
  UsageError,
} from "../kernel/mod.ts";
import type { Command } from "./_command.ts";

/** The get command. */
export const command: Command = {
  name: "get",
  promise:
    "I ask for the content with this hash, and I promise to verify it against the hash before I use it and to share what I verify with my peers.",
  usage: "grid get HASH",
  summary: "write the content with this hash to standard output",
  async run(args, ctx) {
    if (args.length !== 1) throw new UsageError("Usage: grid get HASH");
    const cid = parseHash(args[0]);
    const reply = await ctx.call(getMessage(cid));
    if (!isAccept(reply)) {
      const { code, reason } = rejectReason(reply);
      throw new RejectedError(code as never, `Cannot get "${args[0]}": ${reason}`);
    }
    await ctx.io.stdout(reply[1] as Uint8Array);
    return 0;
  },
};
