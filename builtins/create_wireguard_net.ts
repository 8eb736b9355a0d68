/**
 * `grid create-wireguard-net NAME`: founds a WireGuard net with this node as
 * its first member: a signed genesis record (name, CIDR, policy, PSK on or
 * off, founder) and the founder's own admit.
 *
 * @module
 */
import { UsageError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { flagSet, flagText, parseFlags, parsePort } from "./_flags.ts";

const USAGE =
  "grid create-wireguard-net NAME [--cidr CIDR] [--open] [--psk] [--invite-by admins|members] [--interface IF] [--listen-port N] [--endpoint HOST:PORT] [--name NODE-NAME]";

/** The create command. */
export const command: Command = {
  name: "create-wireguard-net",
  promise:
    "I promise to found this WireGuard net as its first member: to sign only true membership records, to admit newcomers only under the net's rules (an invite, or the join promise alone for an open net), and to give each member a tunnel address no other live member holds. I generate my own keys on this machine and never send a private key anywhere.",
  usage: USAGE,
  summary: "create a WireGuard net with this node as its first member",
  group: "mesh",
  options: [
    ["NAME", "the net's name on this node (letters, digits, _ . -)"],
    ["--cidr CIDR", "the net's address block (default 10.77.0.0/16)"],
    ["--open", "anyone who makes the join promise may join (default: invite only)"],
    ["--psk", "a post-quantum pre-shared key per pair of members"],
    ["--invite-by admins|members", "who may sign invites (default members)"],
    [
      "--interface IF",
      "the WireGuard interface to make (default grid-NAME); never an existing link",
    ],
    ["--listen-port N", "WireGuard's UDP port (default the first free one from 51820)"],
    [
      "--endpoint HOST:PORT",
      "where others reach this node's WireGuard (default from the agent's address)",
    ],
    ["--name NODE-NAME", "this node's name in the net (default the host name)"],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(
      args,
      {
        cidr: { type: "string" },
        open: { type: "boolean" },
        psk: { type: "boolean" },
        "invite-by": { type: "string" },
        interface: { type: "string" },
        "listen-port": { type: "string" },
        endpoint: { type: "string" },
        name: { type: "string" },
      },
      USAGE,
      { min: 1, max: 1 },
    );
    const open = flagSet(flags, "open");
    const psk = flagSet(flags, "psk");
    const inviteBy = flagText(flags, "invite-by");
    if (inviteBy !== undefined && inviteBy !== "admins" && inviteBy !== "members") {
      throw new UsageError(`Invalid --invite-by "${inviteBy.slice(0, 20)}": use admins or members`);
    }
    const { meshFor } = await import("./_mesh_command.ts");
    const r = await (await meshFor(ctx)).create({
      name: flags.positionals[0],
      cidr: flagText(flags, "cidr"),
      open,
      psk,
      inviteBy,
      interface: flagText(flags, "interface"),
      listenPort: parsePort(flagText(flags, "listen-port")),
      endpoint: flagText(flags, "endpoint"),
      nodeName: flagText(flags, "name"),
    });
    await ctx.io.stdout(
      `Created net "${r.name}" (${r.cidr}, ${open ? "open" : "invite only"}${
        psk ? ", pre-shared keys" : ""
      }): this node is ${r.address}${
        r.address6 ? ` (${r.address6})` : ""
      } on ${r.interface} (UDP port ${r.listenPort})\nnet id ${r.net}\n`,
    );
    return 0;
  },
};
