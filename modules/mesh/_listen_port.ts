/**
 * Choosing a WireGuard listen port for a new net: the first port from
 * {@link DEFAULT_LISTEN_PORT} up that no other net of this node uses and
 * that no socket on this machine holds, so a node's second net does not
 * collide with its first ("Address already in use").
 *
 * @module
 */
import { createSocket } from "node:dgram";
import { MembershipError } from "../membership/mod.ts";

/** The first port tried for a new net's WireGuard interface. */
export const DEFAULT_LISTEN_PORT = 51820;

/** How many ports above the first one are tried. */
export const LISTEN_PORT_TRIES = 200;

/** Options for {@link freeListenPort}. */
export interface FreeListenPortOptions {
  /** The first port tried (default {@link DEFAULT_LISTEN_PORT}). */
  from?: number;
  /** How many ports are tried (default {@link LISTEN_PORT_TRIES}). */
  tries?: number;
  /** Whether nothing holds a UDP port (default: {@link udpPortFree}). */
  isFree?: (port: number) => Promise<boolean>;
}

/** The first port from `options.from` up that is not in `taken` and is free on this machine. */
export async function freeListenPort(
  taken: ReadonlySet<number>,
  options: FreeListenPortOptions = {},
): Promise<number> {
  const from = options.from ?? DEFAULT_LISTEN_PORT;
  const tries = options.tries ?? LISTEN_PORT_TRIES;
  const isFree = options.isFree ?? udpPortFree;
  for (let port = from; port < from + tries && port <= 65535; port++) {
    if (!taken.has(port) && await isFree(port)) return port;
  }
  throw new MembershipError(
    `No free UDP port from ${from} to ${
      from + tries - 1
    } for WireGuard; give one with --listen-port`,
  );
}

/** True when a UDP socket can bind `port` on every IPv4 address right now. */
export function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket({ type: "udp4" });
    socket.once("error", () => {
      try {
        socket.close();
      } catch {
        // Never bound, so nothing to close: the answer is the same.
      }
      resolve(false);
    });
    socket.bind({ port, address: "0.0.0.0", exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}
