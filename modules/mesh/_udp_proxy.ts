/**
 * The local end of a relayed path: a UDP socket on 127.0.0.1 that WireGuard
 * is told is the peer's endpoint. What WireGuard sends there (its encrypted
 * packets for the peer) is handed to the relay; what the relay brings back is
 * sent from this socket to WireGuard's port, so WireGuard sees the peer at
 * this address. Only datagrams from WireGuard's own port on 127.0.0.1 are
 * taken, so no other local program can inject into the relay.
 *
 * Uses node:dgram (needs `--allow-net` for the host 127.0.0.1 as a whole:
 * with only `127.0.0.1:0`, sends fail silently).
 *
 * @module
 */
import { createSocket, type Socket } from "node:dgram";
import { Buffer } from "node:buffer";

/** One peer's loopback endpoint. */
export class UdpProxy {
  /** The port WireGuard sends to. */
  readonly port: number;
  /** While true, packets from the relay are dropped (a try to go direct is under way). */
  paused = false;
  /** Packets taken from WireGuard and from the relay (for tests and status). */
  readonly counts = { fromWg: 0, fromRelay: 0 };
  readonly #socket: Socket;
  readonly #wgPort: number;
  #closed = false;

  private constructor(socket: Socket, port: number, wgPort: number) {
    this.#socket = socket;
    this.port = port;
    this.#wgPort = wgPort;
  }

  /** Binds 127.0.0.1 on a free port; `onPacket` gets what WireGuard (at `wgPort`) sends. */
  static open(wgPort: number, onPacket: (bytes: Uint8Array) => void): Promise<UdpProxy> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: "udp4" });
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => {
        socket.removeListener("error", reject);
        const proxy = new UdpProxy(socket, socket.address().port, wgPort);
        socket.on("error", () => {
          // A send to a WireGuard that is not listening (its interface is being made): dropped.
        });
        socket.on("message", (msg: Buffer, from: { address: string; port: number }) => {
          if (from.address !== "127.0.0.1" || from.port !== wgPort) return;
          proxy.counts.fromWg++;
          onPacket(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
        });
        resolve(proxy);
      });
    });
  }

  /** `127.0.0.1:PORT`, WireGuard's endpoint for the peer. */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Hands a packet from the relay to WireGuard (dropped while paused or closed). */
  deliver(bytes: Uint8Array): void {
    if (this.paused || this.#closed) return;
    this.counts.fromRelay++;
    this.#socket.send(bytes, this.#wgPort, "127.0.0.1");
  }

  /** Closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}
