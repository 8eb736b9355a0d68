/**
 * The WireGuard operations the mesh needs, as one interface, so the mesh
 * engine runs on the real `wg`/`ip` layer in the agent and on a fake in unit
 * tests.
 *
 * @module
 */
import type { WgInterfaceSpec } from "./wg_state.ts";
import type { WgDump } from "./wg_dump.ts";
import {
  applyInterface,
  kickPeer,
  readStatus,
  removeInterface,
  resetEndpoints,
  restartPeer,
} from "./wg_apply.ts";
import type { WgPeerSpec } from "./wg_state.ts";
import { generateKeyPair } from "./wg_keys.ts";
import { type LinkState, readLinkState } from "./wg_link.ts";
import { globalAddresses, routeSource } from "./wg_route.ts";
import { nudgePeers } from "./wg_nudge.ts";
import { isWireGuardLink, wireGuardPreflight } from "./wg_preflight.ts";

/** The WireGuard operations the mesh needs (the real ones, or fakes in tests). */
export interface WgDriver {
  /** Makes (or reuses) `DIR/wg.key` with `wg genkey`; returns its public key. */
  generateKeyPair(dir: string): Promise<{ publicKey: string; privateKeyFile: string }>;
  /** Makes the interface match the spec, changing only what differs; says when it made the link. */
  applyInterface(spec: WgInterfaceSpec): Promise<{ created?: string; warnings?: string[] }>;
  /** Deletes the interface (gone already is fine). */
  removeInterface(name: string): Promise<void>;
  /** The interface's `wg show dump`, without secrets. */
  readStatus(name: string): Promise<WgDump>;
  /** Whether the link exists and is up (`ip -j link`). */
  readLinkState(name: string): Promise<LinkState>;
  /** The local address used to reach `destination` (`ip -j route get`), if routable. */
  routeSource(destination: string): Promise<string | undefined>;
  /** This host's global addresses (no loopback, link-local or tunnel interfaces). */
  globalAddresses(): Promise<string[]>;
  /** Sets every peer's endpoint again, so WireGuard forgets the local address it stuck to. */
  resetEndpoints(name: string): Promise<void>;
  /** Makes WireGuard handshake with the peers at these tunnel addresses now. */
  nudge(addresses: readonly string[]): Promise<void>;
  /** Removes and re-adds a peer in one step, so it sends a handshake initiation at once. */
  restartPeer(name: string, peer: WgPeerSpec): Promise<void>;
  /** Points a peer at `endpoint` and makes it send a keepalive at once (its session stays). */
  kickPeer(name: string, publicKey: string, endpoint: string, keepalive: number): Promise<void>;
  /** Why WireGuard cannot be managed here (no privilege, no tools, no backend), or undefined. */
  preflight(): Promise<string | undefined>;
  /** Whether link `name` exists and is a WireGuard interface. */
  isWireGuard(name: string): Promise<boolean>;
}

/** The real WireGuard layer. */
export const SYSTEM_WG: WgDriver = {
  generateKeyPair: (dir) => generateKeyPair(dir),
  applyInterface: (spec) => applyInterface(spec),
  removeInterface: (name) => removeInterface(name),
  readStatus: (name) => readStatus(name),
  readLinkState: (name) => readLinkState(name),
  routeSource: (destination) => routeSource(destination),
  globalAddresses: () => globalAddresses(),
  nudge: (addresses) => nudgePeers(addresses),
  resetEndpoints: (name) => resetEndpoints(name),
  restartPeer: (name, peer) => restartPeer(name, peer),
  kickPeer: (name, publicKey, endpoint, keepalive) =>
    kickPeer(name, publicKey, endpoint, keepalive),
  preflight: () => wireGuardPreflight(),
  isWireGuard: (name) => isWireGuardLink(name),
};
