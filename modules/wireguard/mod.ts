/**
 * The WireGuard driver: keys made on this node, the desired-state contract
 * ({@link WgInterfaceSpec}), a pure planner and a thin effectful layer that
 * applies only the difference with `ip` and `wg set` (kernel WireGuard, or
 * `wireguard-go` where the kernel has none), and a dump parser that drops
 * every secret before status output can see it. It knows nothing of nets or
 * members: the mesh engine (modules/mesh/) drives it.
 *
 * @example
 * ```ts
 * import { applyInterface, generateKeyPair, readStatus } from "./mod.ts";
 * const { privateKeyFile, publicKey } = await generateKeyPair("/root/.grid/state/wireguard");
 * await applyInterface({ name: "grid0", privateKeyFile, listenPort: 51820, addresses: ["10.77.0.1/16"], peers: [] });
 * const status = await readStatus("grid0"); // peers, endpoints, handshakes, bytes; no keys
 * ```
 *
 * @module
 */
export type { WgInterfaceSpec, WgPeerSpec } from "./wg_state.ts";
export { WIREGUARD_ERROR_CODE, WireGuardError } from "./wg_error.ts";
export { parseWgDump, type WgDump, type WgDumpDevice, type WgDumpPeer } from "./wg_dump.ts";
export { isEndpoint, isInterfaceName, isIpv4, isIpv6, validateSpec } from "./wg_validate.ts";
export {
  isLoopbackEndpoint,
  planInterface,
  type WgAction,
  type WgCurrentState,
} from "./wg_plan.ts";
export { generateKeyPair, generatePresharedKey, publicKeyOf, type WgKeyPair } from "./wg_keys.ts";
export {
  applyInterface,
  type ApplyOptions,
  type ApplyResult,
  backendOf,
  kickPeer,
  readInterfaceState,
  readStatus,
  removeInterface,
  resetEndpoints,
  restartPeer,
  type WgBackend,
  type WgOptions,
} from "./wg_apply.ts";
export { type LinkState, readLinkState } from "./wg_link.ts";
export {
  globalAddresses,
  parseGlobalAddresses,
  parseRouteSource,
  routeSource,
} from "./wg_route.ts";
export { nudgePeers } from "./wg_nudge.ts";
export { isWireGuardLink, wireGuardPreflight } from "./wg_preflight.ts";
export { SYSTEM_WG, type WgDriver } from "./wg_driver.ts";
export {
  newWgPrivateKey,
  signWithWgKey,
  signWithWgKeyFile,
  verifyWgSignature,
  wgPublicKeyOf,
} from "./wg_proof.ts";
