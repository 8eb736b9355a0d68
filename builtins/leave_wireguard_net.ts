/**
 * `grid leave-wireguard-net NAME`: records a signed leave, tells the
 * members (who drop this node), removes the interface and the net here.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { parseFlags } from "./_flags.ts";

const USAGE = "grid leave-wireguard-net NAME";

/** The leave command. */
export const command: Command = {
  name: "leave-wireguard-net",
  promise:
    "I promise to stop using this net's keys and addresses once I leave, and I ask its members to drop me as a peer and keep my leave in their records.",
  usage: USAGE,
  summary: "leave a WireGuard net; every member drops this node",
  group: "mesh",
  options: [
    ["NAME", "the net; also removes a net this node was revoked from"],
  ],
  async run(args, ctx) {
    const [name] = (await parseFlags(args, {}, USAGE, { min: 1, max: 1 })).positionals;
    const { meshFor } = await import("./_mesh_command.ts");
    const r = await (await meshFor(ctx)).leave({ name });
    for (const warning of r.warnings ?? []) ctx.io.stderr(`grid: warning: ${warning}`);
    await ctx.io.stdout(
      r.told
        ? `Left net "${r.name}"\n`
        : `Left net "${r.name}"; its members will hear of it once this node's agent reaches one\n`,
    );
    return 0;
  },
};
