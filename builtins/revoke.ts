/**
 * `grid revoke NAME NODE`: a signed revoke of a member (by node id, name or
 * tunnel address); it spreads to every member, who all drop that peer.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { parseFlags } from "./_flags.ts";
import { meshFor } from "./_mesh_command.ts";

const USAGE = "grid revoke NAME NODE";

/** The revoke command. */
export const command: Command = {
  name: "revoke",
  promise:
    "I promise, as a member of this net, that I revoke this member for cause, and I ask every member to drop it as a peer and never admit it again.",
  usage: USAGE,
  summary: "revoke a member of a WireGuard net (node id, name or tunnel address)",
  async run(args, ctx) {
    const [name, node] = parseFlags(args, {}, USAGE, { min: 2, max: 2 }).positionals;
    const r = await (await meshFor(ctx)).revoke({ name, node });
    await ctx.io.stdout(
      `Revoked ${r.memberName} (${r.address}, ${r.revoked}) from net "${r.name}"\n`,
    );
    return 0;
  },
};
