/**
 * `grid leave-wireguard-net NAME`: records a signed leave, tells the
 * members (who drop this node), removes the interface and the net here.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { positionalMeshCommand } from "./_mesh_command.ts";

/** The leave command. */
export const command: Command = positionalMeshCommand({
  name: "leave-wireguard-net",
  promise:
    "I promise to stop using this net's keys and addresses once I leave, and I ask its members to drop me as a peer and keep my leave in their records.",
  usage: "grid leave-wireguard-net NAME",
  summary: "leave a WireGuard net; every member drops this node",
  op: "leave",
  params: ["name"],
  render: (r) =>
    r.told === false
      ? `Left net "${r.name}"; its members will hear of it once this node's agent reaches one\n`
      : `Left net "${r.name}"\n`,
});
