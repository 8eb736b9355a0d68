/**
 * `grid down`: takes this node's WireGuard interfaces down: every interface
 * grid made (and its wireguard-go) is removed; the nets, keys and records
 * stay, so `grid serve` brings them back. The agent must be stopped first
 * (it would bring them back at once); nothing else is ever touched.
 *
 * @module
 */
import { ConfigError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { parseFlags } from "./_flags.ts";

const USAGE = "grid down";

/** The down command. */
export const command: Command = {
  name: "down",
  promise:
    "I ask to take down the WireGuard interfaces grid made on this machine, and nothing else; the nets, keys and records stay.",
  usage: USAGE,
  summary: "remove grid's WireGuard interfaces and wireguard-go here (stop the agent first)",
  group: "mesh",
  foreground: true,
  async run(args, ctx) {
    await parseFlags(args, {}, USAGE, { min: 0, max: 0 });
    const [{ MeshClient }, { openOfflineMesh }] = await Promise.all([
      import("../modules/mesh/mod.ts"),
      import("./_mesh_command.ts"),
    ]);
    if (await new MeshClient(ctx.call).ping().catch(() => false)) {
      throw new ConfigError(
        "The agent is running and would bring the interfaces back: stop it first (systemctl stop grid)",
      );
    }
    const removed = await (await openOfflineMesh(ctx)).down();
    await ctx.io.stdout(
      removed.length === 0
        ? "No grid interfaces here\n"
        : `Removed ${removed.join(", ")}; grid serve brings them back\n`,
    );
    return 0;
  },
};
