/**
 * The names responder on UDP (`node:dgram`, which `--allow-net` covers):
 * answers each datagram from the current table (see responder.ts), at most
 * {@link RATE_PER_SECOND} per source address and {@link GLOBAL_PER_SECOND}
 * in all, so it cannot be used to flood anyone. Default address
 * 127.0.77.53:53, a loopback address of its own (systemd-resolved has
 * 127.0.0.53 and 127.0.0.54).
 *
 * @module
 */
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import { answerQuery } from "./responder.ts";
import type { NameTable } from "./name_table.ts";

/** Where the responder listens unless told. */
export const DEFAULT_DNS_ADDRESS = "127.0.77.53:53";
/** Most queries answered per second from one source address. */
export const RATE_PER_SECOND = 200;
/** Most queries answered per second in all. */
export const GLOBAL_PER_SECOND = 2000;
const MAX_SOURCES = 4096;

/** `HOST:PORT` (IPv6 as `[::1]:53`; a bare address means port 53). */
export function parseDnsAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(text) ??
    /^([0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)()$/.exec(text);
  const host = m ? m[1] ?? m[2] : "";
  const port = m?.[3] !== undefined ? Number(m[3]) : 53;
  if (!m || isIP(host) === 0 || port < 1 || port > 65535) {
    throw new RangeError(
      `Invalid DNS address "${text.slice(0, 60)}": use IP[:PORT], e.g. 127.0.77.53`,
    );
  }
  return { host, port };
}

/** Counts per source within the current second. */
export class RateLimit {
  #second = 0;
  #total = 0;
  readonly #bySource = new Map<string, number>();
  readonly #perSource: number;
  readonly #global: number;

  constructor(perSource = RATE_PER_SECOND, global = GLOBAL_PER_SECOND) {
    this.#perSource = perSource;
    this.#global = global;
  }

  /** True when one more message from `source` may be answered at `now` (ms). */
  allow(source: string, now: number = Date.now()): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#total = 0;
      this.#bySource.clear();
    }
    if (this.#total >= this.#global) return false;
    const count = this.#bySource.get(source) ?? 0;
    if (count >= this.#perSource) return false;
    if (count === 0 && this.#bySource.size >= MAX_SOURCES) return false;
    this.#bySource.set(source, count + 1);
    this.#total++;
    return true;
  }
}

/** Options for {@link startDnsServer}. */
export interface DnsServerOptions {
  /** The current names (read at each query). */
  table: () => NameTable;
  /** The suffix served, lowercase. */
  suffix: string;
  /** Stops the server. */
  signal: AbortSignal;
  /** Called when a message cannot be answered (bad table data): one line. */
  onError?: (why: string) => void;
}

/** A running responder. */
export interface DnsServer {
  /** `HOST:PORT` it is bound to. */
  readonly address: string;
  /** Stops it. */
  close(): void;
}

/** Binds the responder to `address` (see {@link parseDnsAddress}); resolves once bound. */
export async function startDnsServer(
  address: string,
  options: DnsServerOptions,
): Promise<DnsServer> {
  const { host, port } = parseDnsAddress(address);
  const socket: Socket = createSocket({ type: isIP(host) === 6 ? "udp6" : "udp4" });
  const limit = new RateLimit();
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      try {
        socket.close();
      } catch {
        // Never bound, so nothing to close: the error below is the one that matters.
      }
      reject(err);
    };
    socket.once("error", fail);
    socket.bind(port, host, () => {
      socket.off("error", fail);
      resolve();
    });
  });
  socket.on("error", (err) => options.onError?.(String(err)));
  socket.on("message", (msg: Uint8Array, rinfo) => {
    if (!limit.allow(rinfo.address)) return;
    let reply: Uint8Array | undefined;
    try {
      reply = answerQuery(msg, options.table(), options.suffix);
    } catch (err) {
      options.onError?.(err instanceof Error ? err.message : String(err));
      return;
    }
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    socket.close();
  };
  options.signal.addEventListener("abort", close, { once: true });
  const bound = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return { address: bound, close };
}
