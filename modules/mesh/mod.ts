/**
 * The mesh engine: keeps each WireGuard net this node belongs to in line
 * with its member set. It ties membership (modules/membership/: records, the
 * fold, replication) to the WireGuard driver (modules/wireguard/): it renders
 * each net's interface from the member set (pure) and applies it, and it
 * answers the mesh commands through a typed control protocol.
 *
 * @example
 * ```ts
 * import { Mesh, MeshClient } from "./mod.ts";
 * // In the agent: meshService() starts a Mesh; a command then calls it:
 * // const report = await new MeshClient(ctx.call).status({});
 * // Without an agent, the same typed calls run on the on-disk state:
 * // const mesh = await Mesh.open({ home, identity }); await mesh.status({});
 * ```
 *
 * @module
 */
export {
  type AdminsRequest,
  type AdminsResult,
  type AdminStatus,
  type CreateRequest,
  type CreateResult,
  type FormerMember,
  type GridPeerStatus,
  type InviteInfo,
  type InviteRequest,
  type InviteResult,
  type InvitesRequest,
  type InvitesResult,
  JOIN_PROMISE_HASH,
  JOIN_PROMISE_TEXT,
  type JoinRequest,
  type JoinResult,
  type LeaveRequest,
  type LeaveResult,
  MESH_OPS,
  type MeshOp,
  type MeshOps,
  type NetStatus,
  type PeerStatus,
  type RelayStatus,
  type RevokeRequest,
  type RevokeResult,
  type SelfStatus,
  STATUS_SCHEMA,
  type StatusReport,
  type StatusRequest,
} from "./protocol.ts";
export {
  MESH_CONTROL_MODULE,
  MESH_CONTROL_PROMISE,
  MeshClient,
  meshControlModule,
} from "./control.ts";
export {
  Mesh,
  type MeshOptions,
  meshService,
  type MeshServiceOptions,
  NO_PEERS,
  RECONCILE_INTERVAL_MS,
} from "./service.ts";
export { defaultInterfaceName, renderInterface } from "./render.ts";
export {
  joinNetsAtBoot,
  type NetFile,
  parseNetFile,
  readNetsDir,
  SYSTEM_NETS_DIR,
} from "./boot_join.ts";
export { type InterfaceFacts, netStatus } from "./status.ts";
