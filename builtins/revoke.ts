/**
 * `grid revoke NAME NODE`: a signed revoke of a member (by node id, name or
 * tunnel address); it spreads to every member, who all drop that peer.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { flagSet, parseFlags } from "./_flags.ts";

const USAGE = "grid revoke NAME NODE [--lineage]";

/** The revoke command. */
export const command: Command = {
  name: "revoke",
  promise:
    "I promise, as an admin of this net, that I revoke this member for cause, and I ask every member to drop it as a peer and never admit it again.",
  usage: USAGE,
  summary: "revoke a member of a WireGuard net (node id, name or tunnel address)",
  group: "mesh",
  options: [
    ["NAME", "the net"],
    ["NODE", "node id, name or tunnel address (IPv4 or IPv6)"],
    ["--lineage", "also revoke every member it invited, and theirs"],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(args, { lineage: { type: "boolean" } }, USAGE, {
      min: 2,
      max: 2,
    });
    const [name, node] = flags.positionals;
    const { meshFor } = await import("./_mesh_command.ts");
    const r = await (await meshFor(ctx)).revoke({
      name,
      node,
      lineage: flagSet(flags, "lineage"),
    });
    await ctx.io.stdout(
      `Revoked ${r.memberName} (${r.address}, ${r.revoked}) from net "${r.name}"\n` +
        (r.also.length > 0 ? `Also revoked, invited by it: ${r.also.join(", ")}\n` : ""),
    );
    return 0;
  },
};
