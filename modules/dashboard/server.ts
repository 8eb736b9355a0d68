/**
 * The dashboard and metrics servers the agent runs with `grid serve
 * --dashboard ADDR` and `--metrics ADDR`. Read-only: GET and HEAD only, no
 * route changes anything. The page follows the node live over server-sent
 * events (`/events`): the server takes one snapshot a second while someone
 * watches and pushes it (the history and promises only when they changed);
 * a browser never polls.
 *
 * Access: on a loopback address anyone on this host may look, and the Host
 * header must name a loopback host (so a web page cannot reach it by DNS
 * rebinding). On any other address every request must carry the access token
 * (`?token=`, a `Bearer` header, or the cookie set when the page was opened
 * with the token), compared in constant time. At most
 * {@link DashboardOptions.maxStreams} event streams and
 * {@link DashboardOptions.maxRequests} requests at once; more get 503.
 *
 * @module
 */
import { UsageError } from "../../kernel/base/mod.ts";
import { dashboardAssets, renderPage, SECURITY_HEADERS } from "./html.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { DashboardSnapshot, DashboardSource } from "./snapshot.ts";

/** Snapshots a live stream may hold unread (one a second); past them its reader is dropped. */
export const STREAM_BACKLOG = 16;

/**
 * Where a running agent writes its view URLs (`{"dashboard": URL, "metrics":
 * URL}`, owner-only, token included), under the home's `state/`: what
 * `grid dashboard` prints.
 */
export const VIEWS_FILE = "dashboard.json";

/** Default `--dashboard` address. */
export const DEFAULT_DASHBOARD = "127.0.0.1:7341";
/** Time between snapshots while a page watches. */
export const PUSH_INTERVAL_MS = 1000;
const COOKIE = "grid_dashboard";

/** What a server is for: the page (with its event stream), or `/metrics`. */
export type ServerKind = "dashboard" | "metrics";

/** Options for {@link startDashboard}. */
export interface DashboardOptions {
  /** The page, or the metrics. */
  kind: ServerKind;
  /** Where the snapshots come from. */
  source: DashboardSource;
  /** This node's id (the page's title). */
  nodeId: string;
  /** The access token; required for any address that is not loopback. */
  token?: string;
  /** Most event streams at once (default 16). */
  maxStreams?: number;
  /** Most requests in flight at once (default 64). */
  maxRequests?: number;
  /** Time between pushed snapshots (default {@link PUSH_INTERVAL_MS}). */
  intervalMs?: number;
  /** Stops the server. */
  signal: AbortSignal;
}

/** A running server. */
export interface DashboardServer {
  /** The address it listens on, `http://HOST:PORT/`. */
  readonly url: string;
  /** The URL to open: with `?token=` when one is needed. */
  readonly openUrl: string;
  /** Resolves once it has stopped. */
  readonly finished: Promise<void>;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`). */
export function parseServerAddress(text: string, flag: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`Invalid ${flag} address "${text}": use HOST:PORT`);
  return { hostname: m[1] ?? m[2], port };
}

/** True for `localhost` and the loopback addresses (127.0.0.0/8, ::1, their v4-mapped form). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/** A new access token: 32 random bytes, base64url. */
export function newToken(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** True when `given` is `expected`, in time that does not depend on where they differ. */
export async function sameToken(given: string, expected: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all(
    [given, expected].map(async (t) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(t)))
    ),
  );
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function respond(
  status: number,
  body: BodyInit | null,
  type = "text/plain; charset=utf-8",
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": type, ...extra },
  });
}

function presentedToken(req: Request, url: URL): string | undefined {
  const q = url.searchParams.get("token");
  if (q) return q;
  const auth = req.headers.get("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const [k, v] = part.trim().split("=");
    if (k === COOKIE && v) return v;
  }
  return undefined;
}

/** Starts a dashboard or metrics server on `address` (`HOST:PORT`). */
export function startDashboard(
  address: string,
  options: DashboardOptions,
): Promise<DashboardServer> {
  const flag = `--${options.kind}`;
  const { hostname, port } = parseServerAddress(address, flag);
  const local = isLoopback(hostname);
  const token = options.token;
  if (!local && !token) {
    throw new UsageError(`${flag} ${address} is not a loopback address: it needs an access token`);
  }
  const maxStreams = options.maxStreams ?? 16;
  const maxRequests = options.maxRequests ?? 64;
  const hub = new SnapshotHub(
    options.source,
    options.intervalMs ?? PUSH_INTERVAL_MS,
    options.signal,
  );
  let inFlight = 0;

  const allowed = async (req: Request, url: URL): Promise<Response | undefined> => {
    if (local) {
      const host = (req.headers.get("host") ?? "").replace(/:\d+$/, "");
      return isLoopback(host) || host === hostname
        ? undefined
        : respond(403, "Forbidden: not a loopback host\n");
    }
    const given = presentedToken(req, url);
    if (given !== undefined && await sameToken(given, token!)) return undefined;
    return respond(401, "Unauthorized: this address needs the access token\n", undefined, {
      "www-authenticate": 'Bearer realm="grid"',
    });
  };

  const route = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return respond(405, "Read-only: GET only\n", undefined, { allow: "GET, HEAD" });
    }
    const refused = await allowed(req, url);
    if (refused) return refused;
    const path = url.pathname;
    if (options.kind === "metrics") {
      if (path !== "/metrics") return respond(404, "Not found: try /metrics\n");
      return respond(200, renderMetrics(await hub.fresh()), METRICS_CONTENT_TYPE);
    }
    const cookie: Record<string, string> = !local && url.searchParams.has("token")
      ? { "set-cookie": `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict` }
      : {};
    switch (path) {
      case "/":
        return respond(200, renderPage(options.nodeId), "text/html; charset=utf-8", cookie);
      case "/app.js":
      case "/app.css": {
        const asset = dashboardAssets().get(path.slice(1))!;
        return respond(200, asset.text, asset.type);
      }
      case "/api/state":
        return respond(200, JSON.stringify(await hub.fresh()), "application/json");
      case "/events":
        return hub.stream(maxStreams);
      default:
        return respond(404, "Not found\n");
    }
  };

  const server = Deno.serve({
    hostname,
    port,
    signal: options.signal,
    onListen: () => {}, // the agent prints the URL itself
    onError: (err) => respond(500, `Internal error: ${err instanceof Error ? err.message : err}\n`),
  }, async (req) => {
    if (inFlight >= maxRequests) return respond(503, "Busy: too many requests\n");
    inFlight++;
    try {
      return await route(req);
    } finally {
      inFlight--;
    }
  });
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}/`;
  const open = `${url}${options.kind === "metrics" ? "metrics" : ""}`;
  return Promise.resolve({
    url,
    openUrl: local ? open : `${open}?token=${token}`,
    finished: server.finished,
  });
}

/** Takes snapshots while someone watches and pushes each changed one to every stream. */
class SnapshotHub {
  readonly #source: DashboardSource;
  readonly #intervalMs: number;
  readonly #signal: AbortSignal;
  readonly #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The history and promises last pushed, as JSON. */
  #lastSlow = "";
  #taking: Promise<DashboardSnapshot> | undefined;

  constructor(source: DashboardSource, intervalMs: number, signal: AbortSignal) {
    this.#source = source;
    this.#intervalMs = intervalMs;
    this.#signal = signal;
    signal.addEventListener("abort", () => this.#closeAll(), { once: true });
  }

  /** A snapshot taken now (shared with a concurrent caller). */
  fresh(): Promise<DashboardSnapshot> {
    this.#taking ??= this.#source.snapshot().finally(() => (this.#taking = undefined));
    return this.#taking;
  }

  /** An event stream: the latest snapshot at once, then each change. */
  stream(max: number): Response {
    if (this.#streams.size >= max) return respond(503, "Busy: too many dashboards open\n");
    const enc = new TextEncoder();
    let me: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        me = controller;
        this.#streams.add(controller);
        controller.enqueue(enc.encode("retry: 2000\n\n"));
        void this.fresh().then(
          (snap) => this.#send(controller, JSON.stringify(snap)),
          () => {/* the next tick retries */},
        );
        this.#timer ??= setInterval(() => void this.#tick(), this.#intervalMs);
      },
      cancel: () => this.#drop(me), // the reader went away
    }, new CountQueuingStrategy({ highWaterMark: STREAM_BACKLOG }));
    return respond(200, body, "text/event-stream; charset=utf-8", { connection: "keep-alive" });
  }

  /**
   * Pushes the snapshot to every stream. The history and the promises change
   * rarely: they go only when they changed since the last push (a new stream
   * gets them at once); the page keeps the ones it has.
   */
  async #tick(): Promise<void> {
    let snap: DashboardSnapshot;
    try {
      snap = await this.fresh();
    } catch {
      return; // e.g. the mesh is busy: the next tick tries again
    }
    const slow = JSON.stringify([snap.history, snap.promises]);
    const json = JSON.stringify(
      slow === this.#lastSlow ? { ...snap, history: undefined, promises: undefined } : snap,
    );
    this.#lastSlow = slow;
    for (const c of this.#streams) this.#send(c, json);
  }

  #send(c: ReadableStreamDefaultController<Uint8Array>, json: string): void {
    // A reader that stopped reading is dropped, not queued for: its snapshots would pile up.
    if (c.desiredSize !== null && c.desiredSize <= 0) return this.#drop(c);
    try {
      c.enqueue(new TextEncoder().encode(`event: state\ndata: ${json}\n\n`));
    } catch {
      this.#drop(c); // the stream closed under us: that reader is gone
    }
  }

  #drop(c: ReadableStreamDefaultController<Uint8Array> | undefined): void {
    if (!c || !this.#streams.delete(c)) return;
    try {
      c.close();
    } catch {
      // already closed or errored: nothing left to close
    }
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#lastSlow = "";
    }
  }

  #closeAll(): void {
    for (const c of [...this.#streams]) this.#drop(c);
    if (this.#signal.aborted && this.#timer !== undefined) clearInterval(this.#timer);
  }
}
