/**
 * `grid admins NAME [add NODE [--slice CIDR] | remove NODE]`: lists a net's
 * admins (who admit joiners, each into its own address slice, and revoke
 * plain members), or, run by the founder, names one or takes the rights back.
 *
 * @module
 */
import { UsageError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { flagText, parseFlags } from "./_flags.ts";
import { alignRows } from "./status.ts";

const USAGE = "grid admins NAME [add NODE [--slice CIDR] | remove NODE]";

/** The admins command. */
export const command: Command = {
  name: "admins",
  promise:
    "I ask to see who may admit and revoke in this net; as its founder I may name an admin, whom I trust to admit only under the net's rules and to revoke only for cause, or take that trust back.",
  usage: USAGE,
  summary: "list a net's admins, or (founder) add or remove one",
  group: "mesh",
  options: [
    ["NAME", "the net"],
    ["add NODE", "(founder) make a live member an admin; NODE: node id, name or tunnel address"],
    [
      "--slice CIDR",
      "the block the new admin allocates addresses from (default: the next free one)",
    ],
    ["remove NODE", "(founder) take a member's admin rights away"],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(args, { slice: { type: "string" } }, USAGE, { min: 1, max: 3 });
    const [name, action = "list", node] = flags.positionals;
    if (action !== "list" && action !== "add" && action !== "remove") {
      throw new UsageError(`Usage: ${USAGE}`);
    }
    if ((action === "list") !== (node === undefined)) throw new UsageError(`Usage: ${USAGE}`);
    const slice = flagText(flags, "slice");
    if (slice !== undefined && action !== "add") throw new UsageError(`Usage: ${USAGE}`);
    const { meshFor } = await import("./_mesh_command.ts");
    const r = await (await meshFor(ctx)).admins({ name, action, node, slice });
    const rows = [
      ["NAME", "ADDRESS", "ROLE", "SLICE", "NODE"],
      ...r.admins.map((a) => [a.name, a.address, a.role, a.slice ?? "(the rest)", a.id]),
    ];
    await ctx.io.stdout(alignRows(rows).join("\n") + "\n");
    return 0;
  },
};
