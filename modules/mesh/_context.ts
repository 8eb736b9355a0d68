/**
 * What the mesh operations (create, join, leave, revoke) share: one node's
 * mesh engine as plain fields, handed to each operation's function.
 *
 * @module
 */
import type { GridHome, Identity, Logger, PeerNetwork } from "../../kernel/mod.ts";
import type { WgDriver } from "../wireguard/mod.ts";
import type { NetReconciler } from "./_reconciler.ts";
import type { AntiEntropy, Nets } from "../membership/mod.ts";

/** One node's mesh engine, as the operations see it. */
export interface MeshContext {
  /** The grid home holding `state/nets/`. */
  home: GridHome;
  /** This node's identity. */
  identity: Identity;
  /** This node's id. */
  selfId: string;
  /** Hash (text) of the join command's promise, which joiners make. */
  joinPromise: string;
  /** This agent's grid URL (`grid serve --advertise`, or worked out with `auto`), if any. */
  readonly advertise?: string;
  /** With `--advertise auto`: works out this node's URL again, towards `destination`. */
  refreshAdvertise(destination?: string): Promise<void>;
  /** The peer network (no peers when offline). */
  peers: PeerNetwork;
  /** True inside a running agent; false for offline commands (no peers). */
  online: boolean;
  /** The WireGuard layer. */
  wg: WgDriver;
  /** Where events are logged. */
  log: Logger;
  /** The nets this node belongs to. */
  nets: Nets;
  /** Replication of the nets' records. */
  sync: AntiEntropy;
  /** Brings each net's interface in line with its member set. */
  reconciler: NetReconciler;
}
