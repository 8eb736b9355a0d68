/**
 * The services `grid serve` starts, in order. Each is a long-lived module
 * (see kernel/service.ts) that registers its own modules with the kernel.
 *
 * @module
 */
import type { Service } from "../kernel/mod.ts";
import { meshService } from "../modules/mesh/mod.ts";

/** Services started by the agent. */
export const SERVICES: readonly Service[] = [meshService()];
