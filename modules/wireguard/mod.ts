/**
 * The WireGuard layer: keys made on this node, the desired-state contract
 * ({@link WgInterfaceSpec}), a pure planner and a thin effectful layer that
 * applies only the difference with `ip` and `wg set` (kernel WireGuard, or
 * `wireguard-go` where the kernel has none), and a dump parser that drops
 * every secret before status output can see it. On top of it, the mesh
 * engine ({@link Mesh}, run by the agent as {@link meshService}) keeps each
 * net's interface in line with its member set.
 *
 * @example
 * ```ts
 * import { applyInterface, generateKeyPair, readStatus } from "./mod.ts";
 * const { privateKeyFile, publicKey } = await generateKeyPair("/root/.grid/state/wireguard");
 * await applyInterface({ name: "grid0", privateKeyFile, listenPort: 51820, address: "10.77.0.1/16", peers: [] });
 * const status = await readStatus("grid0"); // peers, endpoints, handshakes, bytes; no keys
 * ```
 *
 * @module
 */
export * from "./wg_state.ts";
export * from "./wg_error.ts";
export * from "./wg_dump.ts";
export * from "./wg_validate.ts";
export * from "./wg_plan.ts";
export * from "./wg_keys.ts";
export * from "./wg_apply.ts";
export * from "./wg_link.ts";
export * from "./wg_driver.ts";
export * from "./mesh_render.ts";
export * from "./mesh_control.ts";
export * from "./mesh_status.ts";
export * from "./mesh_service.ts";
