/**
 * What the mesh commands share: reaching the mesh with typed calls, in the
 * agent's mesh service when one answers through the kernel, or else on this
 * node's on-disk state (offline).
 *
 * @module
 */
import { loadIdentity } from "../kernel/mod.ts";
import { Mesh, MeshClient, type MeshOps } from "../modules/mesh/mod.ts";
import type { CommandContext } from "./_command.ts";

/** Opens the mesh on this node's disk, without an agent. */
export async function openOfflineMesh(ctx: CommandContext): Promise<Mesh> {
  const home = ctx.node.home;
  return await Mesh.open({ home, identity: await loadIdentity(`${home.state}/identity`) });
}

/** The agent's mesh service when one answers here, else the mesh on this node's disk. */
export async function meshFor(ctx: CommandContext): Promise<MeshOps> {
  const client = new MeshClient(ctx.call);
  if (await client.ping()) return client;
  return await openOfflineMesh(ctx);
}
