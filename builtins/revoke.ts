/**
 * `grid revoke NAME NODE`: a signed revoke of a member (by node id, name or
 * tunnel address); it spreads to every member, who all drop that peer.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { positionalMeshCommand } from "./_mesh_command.ts";

/** The revoke command. */
export const command: Command = positionalMeshCommand({
  name: "revoke",
  promise:
    "I promise, as a member of this net, that I revoke this member for cause, and I ask every member to drop it as a peer and never admit it again.",
  usage: "grid revoke NAME NODE",
  summary: "revoke a member of a WireGuard net (node id, name or tunnel address)",
  op: "revoke",
  params: ["name", "node"],
  render: (r) => `Revoked ${r.memberName} (${r.address}, ${r.revoked}) from net "${r.name}"\n`,
});
