/**
 * The UDP side of LAN discovery: the agent's announcer (broadcasts its open
 * nets every few seconds and answers a joiner's question, rate-limited) and
 * the joiner's ask (broadcasts the question a few times and collects the
 * verified answers for a second or two). IPv4 broadcast to each subnet
 * of the host, which stays on the local link.
 *
 * @module
 */
import dgram from "node:dgram";
import type { Identity, Logger } from "../../kernel/mod.ts";
import {
  type AnnouncementFacts,
  askDatagram,
  dialUrl,
  LAN_PORT,
  MAX_DATAGRAM,
  readAnnouncement,
  readAsk,
  signAnnouncement,
} from "./announcement.ts";
import type { Sighting } from "./choice.ts";
import { Sightings } from "./choice.ts";

/** Where announcements and questions go when no subnet is known. */
export const BROADCAST = "255.255.255.255";

function directedBroadcast(local: string, prefixlen: number): string | undefined {
  const parts = local.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return undefined;
  if (!Number.isInteger(prefixlen) || prefixlen < 1 || prefixlen > 30) return undefined;
  const n = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
  const b = (n | (0xffffffff >>> prefixlen)) >>> 0;
  return [b >>> 24, (b >>> 16) & 0xff, (b >>> 8) & 0xff, b & 0xff].join(".");
}

/**
 * The broadcast addresses of this host's IPv4 subnets, from the JSON of
 * `ip -j -4 addr show up`: on every link that can broadcast (not loopback,
 * not point-to-point such as WireGuard), the address's `brd`, else the
 * subnet's last address.
 */
export function subnetBroadcasts(ipJson: string): string[] {
  const out = new Set<string>();
  let links: unknown;
  try {
    links = JSON.parse(ipJson);
  } catch {
    return []; // no answer from ip: the caller falls back
  }
  if (!Array.isArray(links)) return [];
  for (const link of links) {
    const flags: unknown[] = Array.isArray(link?.flags) ? link.flags : [];
    if (!flags.includes("BROADCAST") || flags.includes("LOOPBACK")) continue;
    for (const a of Array.isArray(link?.addr_info) ? link.addr_info : []) {
      if (a?.family !== "inet" || typeof a.local !== "string") continue;
      const b = typeof a.broadcast === "string" && /^\d{1,3}(\.\d{1,3}){3}$/.test(a.broadcast)
        ? a.broadcast
        : directedBroadcast(a.local, a.prefixlen);
      if (b) out.add(b);
    }
  }
  return [...out];
}

/**
 * Where to broadcast now: each subnet's broadcast address (`ip` lists them:
 * the release binary may neither list interfaces nor read /proc, and
 * 255.255.255.255 needs a default route), else {@link BROADCAST}.
 */
export async function broadcastAddresses(): Promise<string[]> {
  let text = "";
  try {
    const out = await new Deno.Command("ip", {
      args: ["-j", "-4", "addr", "show", "up"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) text = new TextDecoder().decode(out.stdout);
  } catch {
    // No ip here (or not allowed): the fallback below.
  }
  const found = subnetBroadcasts(text);
  return found.length > 0 ? found : [BROADCAST];
}

/** How often an agent announces its open nets unasked. */
export const ANNOUNCE_INTERVAL_MS = 5_000;

/** Least time between two answers to the same address. */
export const ANSWER_GAP_MS = 300;

/** Most questions answered per second, from everyone together. */
export const MAX_ANSWERS_PER_SECOND = 20;

/** Options for {@link LanAnnouncer.start}. */
export interface LanAnnouncerOptions {
  /** This node's identity, which signs each announcement. */
  identity: Identity;
  /** The open nets to announce now (read at each announcement). */
  nets: () => AnnouncementFacts[];
  /** Where logs go. */
  log: Logger;
  /** Stops the announcer. */
  signal: AbortSignal;
  /** UDP port (default {@link LAN_PORT}). */
  port?: number;
  /** Where to send (default: {@link broadcastAddresses}). */
  broadcast?: string;
  /** Time between unasked announcements (default {@link ANNOUNCE_INTERVAL_MS}). */
  intervalMs?: number;
}

function send(socket: dgram.Socket, bytes: Uint8Array, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(bytes, port, host, (err) => err ? reject(err) : resolve())
  );
}

/** An agent's announcements of its open nets on the LAN. */
export class LanAnnouncer {
  readonly #o: LanAnnouncerOptions;
  readonly #socket: dgram.Socket;
  readonly #lastAnswer = new Map<string, number>();
  #second = 0;
  #answered = 0;

  private constructor(options: LanAnnouncerOptions, socket: dgram.Socket) {
    this.#o = options;
    this.#socket = socket;
  }

  /**
   * Binds the port (shared: several agents on one host may announce) and
   * starts; rejects when it cannot bind.
   */
  static async start(options: LanAnnouncerOptions): Promise<LanAnnouncer> {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.port ?? LAN_PORT, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    // Announcements and answers stay on the local link: a reply to a source past a router
    // (scanners, spoofed addresses elsewhere) dies at the first hop.
    socket.setTTL(1);
    const announcer = new LanAnnouncer(options, socket);
    socket.on("message", (msg, rinfo) => void announcer.#onMessage(msg, rinfo.address, rinfo.port));
    socket.on("error", (err) => options.log("debug", "lan-socket-error", { why: String(err) }));
    const timer = setInterval(
      () => void announcer.announce(),
      options.intervalMs ?? ANNOUNCE_INTERVAL_MS,
    );
    options.signal.addEventListener("abort", () => {
      clearInterval(timer);
      socket.close();
    }, { once: true });
    void announcer.announce();
    return announcer;
  }

  /** Broadcasts one announcement per open net (nothing when there is none). */
  async announce(): Promise<void> {
    const nets = this.#o.nets();
    if (nets.length === 0 || this.#o.signal.aborted) return; // nothing to say: no `ip` run
    const to = this.#o.broadcast ? [this.#o.broadcast] : await broadcastAddresses();
    const port = this.#o.port ?? LAN_PORT;
    for (const facts of nets) {
      const bytes = await this.#sign(facts);
      for (const host of to) if (bytes) await this.#send(bytes, facts.name, port, host);
    }
  }

  async #sign(facts: AnnouncementFacts): Promise<Uint8Array | undefined> {
    try {
      return await signAnnouncement(this.#o.identity, facts);
    } catch (err) {
      this.#o.log("warn", "lan-announce-too-large", { net: facts.name, why: String(err) });
      return undefined;
    }
  }

  async #send(bytes: Uint8Array, net: string, port: number, host: string): Promise<void> {
    if (this.#o.signal.aborted) return;
    try {
      await send(this.#socket, bytes, port, host);
    } catch (err) {
      this.#o.log("debug", "lan-announce-failed", { net, to: host, why: String(err) });
    }
  }

  async #onMessage(msg: Uint8Array, address: string, port: number): Promise<void> {
    const name = readAsk(msg);
    if (name === undefined) return;
    // Questions for names this node does not hold cost it nothing, not even budget: a flood of
    // them must not silence its answers to a real joiner.
    const held = this.#o.nets().filter((facts) => facts.name === name);
    if (held.length === 0) return;
    const now = Date.now();
    if (now - (this.#lastAnswer.get(address) ?? 0) < ANSWER_GAP_MS) return;
    const second = Math.floor(now / 1000);
    if (second !== this.#second) [this.#second, this.#answered] = [second, 0];
    if (++this.#answered > MAX_ANSWERS_PER_SECOND) return;
    if (this.#lastAnswer.size > 1024) this.#lastAnswer.clear();
    this.#lastAnswer.set(address, now);
    for (const facts of held) {
      const bytes = await this.#sign(facts);
      if (bytes) await this.#send(bytes, name, port, address);
    }
  }
}

/** Options for {@link askLan}. */
export interface AskLanOptions {
  /** How long to listen, in ms. */
  timeoutMs: number;
  /** The agents' UDP port (default {@link LAN_PORT}). */
  port?: number;
  /** Where to send the question (default: {@link broadcastAddresses}). */
  broadcast?: string;
  /** Called about every quarter second while it listens (progress on a terminal). */
  onTick?: (elapsedMs: number) => void;
  /** Stops early. */
  signal?: AbortSignal;
}

/**
 * Asks the LAN who holds open net `name`: broadcasts the question three
 * times over `timeoutMs` and returns the verified announcements heard.
 */
export async function askLan(name: string, options: AskLanOptions): Promise<Sighting[]> {
  const port = options.port ?? LAN_PORT;
  const hosts = options.broadcast ? [options.broadcast] : await broadcastAddresses();
  const sightings = new Sightings();
  const socket = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.setBroadcast(true);
  socket.on("error", () => {}); // a refused send is no answer, nothing more
  socket.on("message", async (msg, rinfo) => {
    if (msg.length > MAX_DATAGRAM) return;
    const a = await readAnnouncement(msg);
    if (a) sightings.add({ announcement: a, url: dialUrl(a, rinfo.address), seenAt: Date.now() });
  });
  const ask = askDatagram(name);
  const started = Date.now();
  try {
    for (let i = 0; i < 3; i++) {
      for (const host of hosts) {
        await send(socket, ask, port, host).catch(() => {}); // no route now: try again next time
      }
      const until = started + ((i + 1) * options.timeoutMs) / 3;
      while (Date.now() < until && !options.signal?.aborted) {
        await new Promise((r) => setTimeout(r, Math.min(250, until - Date.now())));
        options.onTick?.(Date.now() - started);
      }
    }
  } finally {
    socket.close();
  }
  return sightings.live();
}
