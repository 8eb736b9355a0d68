/**
 * Reaches a TCP port inside a lab namespace from the host. Network namespaces
 * do not separate Unix sockets on a shared file system, so two halves meet at
 * a socket file: run as a script inside the namespace, this file listens on
 * the socket and connects each client to `HOST:PORT` there
 * (`deno run -A tests/lab/forward.ts SOCKET HOST:PORT`); on the host,
 * {@link forwardToSocket} listens on a loopback TCP port and connects each
 * client to the socket.
 *
 * @module
 */

async function pipe(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  await Promise.allSettled([
    a.readable.pipeTo(b.writable),
    b.readable.pipeTo(a.writable),
  ]);
}

/** A host TCP port that leads to `socket`. */
export interface Forward {
  /** The loopback port clients connect to. */
  readonly port: number;
  /** Stops listening (open connections end with their peers). */
  close(): void;
}

/** Listens on 127.0.0.1 (a free port) and joins every client to the Unix socket `socket`. */
export function forwardToSocket(socket: string): Forward {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  void (async () => {
    for await (const conn of listener) {
      Deno.connect({ transport: "unix", path: socket }).then(
        (inner) => pipe(conn, inner),
        () => conn.close(),
      );
    }
  })().catch(() => {/* closed */});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

if (import.meta.main) {
  const [socket, target] = Deno.args;
  const m = /^(.+):(\d+)$/.exec(target ?? "");
  if (!socket || !m) {
    console.error("usage: forward.ts SOCKET HOST:PORT");
    Deno.exit(2);
  }
  await Deno.remove(socket).catch(() => {/* not there yet */});
  const listener = Deno.listen({ transport: "unix", path: socket });
  console.log(`forwarding ${socket} to ${target}`);
  for await (const conn of listener) {
    Deno.connect({ hostname: m[1], port: Number(m[2]) }).then(
      (inner) => pipe(conn, inner),
      (err) => {
        console.error(`cannot reach ${target}: ${err}`);
        conn.close();
      },
    );
  }
}
