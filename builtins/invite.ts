/**
 * `grid invite NAME`: prints one line, an invite token: a capability signed
 * by this node naming the net, this agent's URL, an expiry and a use count.
 *
 * @module
 */
import { parseDuration } from "../modules/membership/mod.ts";
import { UsageError } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";
import { meshArgs, parseFlags, runMeshOp } from "./_mesh_command.ts";

const USAGE = "grid invite NAME [--ttl DURATION] [--uses N] [--url ws://HOST:PORT]";

/** The invite command. */
export const command: Command = {
  name: "invite",
  promise:
    "I promise to vouch for whoever presents this invite: to admit them to the net while it is unexpired and unused, under the net's rules, and to answer for the invites I hand out.",
  usage: "grid invite NAME [--ttl DURATION] [--uses N]",
  summary: "print a one-line invite token for a WireGuard net",
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        ttl: { type: "string" },
        uses: { type: "string" },
        url: { type: "string" },
      },
      USAGE,
      { min: 1, max: 1 },
    );
    const uses = values.uses === undefined ? undefined : Number(values.uses);
    if (uses !== undefined && !/^[0-9]{1,4}$/.test(values.uses as string)) {
      throw new UsageError(`Invalid --uses "${values.uses}": a whole number`);
    }
    const r = await runMeshOp(
      ctx,
      "invite",
      meshArgs({
        name: positionals[0],
        ttlMs: typeof values.ttl === "string" ? parseDuration(values.ttl) : undefined,
        uses,
        url: values.url,
      }),
    );
    await ctx.io.stdout(`${r.token}\n`);
    return 0;
  },
};
