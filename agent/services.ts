/**
 * The services `grid serve` starts, in order. Each is a long-lived module
 * (see kernel/service.ts) that registers its own modules with the kernel.
 *
 * @module
 */
import type { Service } from "../kernel/mod.ts";
import { type Mesh, meshService } from "../modules/mesh/mod.ts";
import { discoveryService } from "../modules/discovery/mod.ts";

/** The mesh service; its `mesh` is set once it started (the dashboard reads it). */
export const MESH_SERVICE: Service & { mesh?: Mesh } = meshService();

/** Services started by the agent. */
export const SERVICES: readonly Service[] = [
  MESH_SERVICE,
  discoveryService(() => MESH_SERVICE.mesh?.nets),
];
