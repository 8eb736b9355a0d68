/**
 * The services `grid serve` starts, in order. Each is a long-lived module
 * (see kernel/service.ts) that registers its own modules with the kernel.
 *
 * @module
 */
import { hashText, type Service } from "../kernel/mod.ts";
import { meshService } from "../modules/wireguard/mod.ts";
import { command as joinWireguardNet } from "./join_wireguard_net.ts";

/** Services started by the agent. */
export const SERVICES: Service[] = [
  // The join promise is read when the agent starts (the command module may load after this one).
  meshService({ joinPromise: () => hashText(joinWireguardNet.promise).toString() }),
];
