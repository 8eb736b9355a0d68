/**
 * Makes WireGuard talk to peers now: one small UDP datagram to each peer's
 * tunnel address (the discard port) is routed into the tunnel, so WireGuard
 * starts a handshake at once instead of at the next keepalive, up to 25 s
 * later. A node whose own address changed sends it, so its peers learn the
 * new address (WireGuard roams to where authenticated packets come from)
 * within a round trip.
 *
 * @module
 */
import { createSocket } from "node:dgram";

/** The discard port (RFC 863): nothing answers, nothing is read. */
const DISCARD_PORT = 9;

/** Sends one empty-ish datagram to each tunnel address; resolves once all are sent (or failed). */
export function nudgePeers(addresses: readonly string[]): Promise<void> {
  const v4 = addresses.filter((a) => !a.includes(":"));
  const v6 = addresses.filter((a) => a.includes(":"));
  return Promise.all([send("udp4", v4), send("udp6", v6)]).then(() => {});
}

function send(type: "udp4" | "udp6", addresses: string[]): Promise<void> {
  if (addresses.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const socket = createSocket(type);
    let left = addresses.length;
    const done = () => {
      if (--left === 0) {
        socket.close();
        resolve();
      }
    };
    socket.on("error", () => {
      // A peer that cannot be reached through the tunnel is no reason to fail the rest.
    });
    for (const address of addresses) {
      socket.send(new Uint8Array([0]), DISCARD_PORT, address, () => done());
    }
  });
}
