/**
 * The long-lived agent behind `grid serve` (and behind `grid
 * join-wireguard-net` when it stays in the foreground): opens the node,
 * loads its identity, listens for and dials peers, serves lookups across the
 * grid, answers the local command line on the control socket, and starts
 * every service in services.ts. Runs until its signal aborts.
 *
 * @module
 */
import {
  agentAnswers,
  ConfigError,
  ControlServer,
  controlSocketPath,
  type Io,
  isReject,
  loadIdentity,
  LOG_LEVELS,
  type Logger,
  type LogLevel,
  oneLine,
  rejectReason,
  type RelayPolicy,
  type ServiceContext,
  SYSTEM_HOME,
  UsageError,
} from "../kernel/mod.ts";
import {
  type Backoff,
  checkReachableHost,
  type Listening,
  LookupLedger,
  parsePeerUrl,
  peerAdminModule,
  peerBlobModule,
  PeerHub,
  peerProxyModule,
  PEERS_DIAL_PROMISE,
  PEERS_LIST_PROMISE,
  RANGE_PROMISE,
  readPeerUrls,
} from "../kernel/peers/mod.ts";
import type { GridNode } from "./node.ts";
import { MESH_SERVICE, SERVICES } from "./services.ts";
import { SYSTEM_NETS_DIR } from "../modules/mesh/mod.ts";

/** `--advertise auto`: the agent works out its URL from the route to its peers, and follows it. */
export const AUTO = "auto";

/** Options for {@link runAgent}. */
export interface AgentOptions {
  /** The node to serve. */
  node: GridNode;
  /** `HOST:PORT` to listen on for peers (port 0 picks one). */
  listen: string;
  /** URL peers should dial us at, sent in the handshake. */
  advertise?: string;
  /** Least severe level logged (default "info"). */
  logLevel?: LogLevel;
  /** Stops the agent. */
  signal: AbortSignal;
  /** Where the "listening" line goes (stdout of the command). */
  io?: Io;
  /** Where log lines go (default: stderr). */
  logSink?: (line: string) => void;
  /** Redial backoff (tests use short ones). Also `GRID_PEER_BACKOFF_MS=min,max`. */
  backoff?: Backoff;
  /** Limits; see {@link PeerHub}. */
  maxConnections?: number;
  /** Most inbound sockets from one remote IP address (see docs/peers.md). */
  maxPerAddress?: number;
  /** Most inbound sockets still in the handshake. */
  maxHandshaking?: number;
  /** Most requests in flight per peer. */
  maxInFlight?: number;
  /** Largest frame a peer may send, in bytes. */
  maxFrameBytes?: number;
  /** Also `GRID_PEER_HANDSHAKE_MS`. */
  handshakeTimeoutMs?: number;
  /** How long a request to a peer may take, in ms. */
  requestTimeoutMs?: number;
  /** What this agent relays between other nodes (default: 32 circuits, 100 Mbit/s). */
  relay?: Partial<RelayPolicy>;
  /** Where the nets to join at start are; "" for none (see {@link AgentRun}). */
  netsDir?: string;
  /** False: announce no open net on the local network (`grid serve --no-announce`). */
  announce?: boolean;
  /** `HOST:PORT` to serve the dashboard on (none: no dashboard). */
  dashboard?: string;
  /** `HOST:PORT` to serve Prometheus metrics on (none: no metrics). */
  metrics?: string;
  /** `IP[:PORT]` to answer members' names on (none: no DNS; docs/names.md). */
  dns?: string;
  /** The names' suffix (default `grid`). */
  dnsSuffix?: string;
  /** A hosts file whose grid block to keep. */
  hostsFile?: string;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`). */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(`Invalid listen address "${text}": use HOST:PORT`);
  }
  return { hostname: m[1] ?? m[2], port };
}

function formatValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return /^[\w.:/@%+-]*$/.test(text) && text.length > 0 ? text : JSON.stringify(text);
}

/**
 * One line per event: `TIME LEVEL event key=value ...`, at or above
 * `level`; without TIME under journald (`JOURNAL_STREAM` set: it stamps
 * every line itself).
 */
export function createLogger(
  level: LogLevel,
  sink: (line: string) => void,
  stamp = !Deno.env.get("JOURNAL_STREAM"),
): Logger {
  const min = LOG_LEVELS.indexOf(level);
  return (lvl, event, fields = {}) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const parts = stamp ? [new Date().toISOString(), lvl, event] : [lvl, event];
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) parts.push(`${k}=${formatValue(v)}`);
    }
    sink(parts.join(" "));
  };
}

function stderrSink(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
}

function envBackoff(): Backoff | undefined {
  const text = Deno.env.get("GRID_PEER_BACKOFF_MS");
  if (!text) return undefined;
  const [min, max] = text.split(",").map(Number);
  if (!(min > 0) || !(max >= min)) {
    throw new ConfigError(`Invalid GRID_PEER_BACKOFF_MS "${text}": use MIN,MAX`);
  }
  return { minMs: min, maxMs: max };
}

function envMs(name: string): number | undefined {
  const text = Deno.env.get(name);
  if (!text) return undefined;
  const ms = Number(text);
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new ConfigError(`Invalid ${name} "${text}": use a whole number of milliseconds`);
  }
  return ms;
}

/** Runs the agent until `options.signal` aborts. */
export async function runAgent(options: AgentOptions): Promise<void> {
  const log = createLogger(options.logLevel ?? "info", options.logSink ?? stderrSink);
  const node = options.node;
  const { hostname, port } = parseListen(options.listen);
  const auto = options.advertise === AUTO;
  if (options.advertise !== undefined && !auto) {
    const url = new URL(parsePeerUrl(options.advertise));
    await checkReachableHost(url.hostname, `Invalid --advertise ${options.advertise}`);
  }
  const identity = await loadIdentity(`${node.home.state}/identity`);
  const socketPath = controlSocketPath(node.home.root);
  const stop = options.signal;
  const kernel = node.kernel;

  const peers = new PeerHub({
    identity,
    advertise: auto ? undefined : options.advertise,
    log,
    handler: async (parms, ctx) => {
      const reply = await kernel.call(parms, { ...ctx, signal: stop });
      if (isReject(reply)) {
        const { code, reason } = rejectReason(reply);
        // A miss is routine; anything else is worth a line.
        log(code === "not-found" ? "debug" : "info", "peer-request-rejected", {
          from: ctx.origin,
          code,
          why: reason,
        });
      }
      return reply;
    },
    backoff: options.backoff ?? envBackoff(),
    maxConnections: options.maxConnections,
    maxPerAddress: options.maxPerAddress,
    maxHandshaking: options.maxHandshaking,
    maxInFlight: options.maxInFlight,
    maxFrameBytes: options.maxFrameBytes,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? envMs("GRID_PEER_HANDSHAKE_MS"),
    requestTimeoutMs: options.requestTimeoutMs,
  });
  const ledger = new LookupLedger();
  for (const p of [RANGE_PROMISE, PEERS_LIST_PROMISE, PEERS_DIAL_PROMISE]) kernel.acceptPromise(p);
  kernel.register(peerBlobModule({ log, ledger }));
  kernel.register(peerAdminModule(peers));
  kernel.register(peerProxyModule({ kernel, peers, log, ledger }));

  const control = await ControlServer.start(socketPath, {
    log,
    handler: (parms) => kernel.call(parms, { origin: "local", signal: stop }),
  });
  let names: { settled(): Promise<void> } | undefined;
  try {
    const bound = await listenAnyFamily(peers, hostname, port, log);
    const line = `grid: listening on ${bound.url} as ${identity.id}\n`;
    if (options.io) await options.io.stdout(line);
    else await Deno.stdout.write(new TextEncoder().encode(line));
    log("info", "agent-up", { listen: bound.url, node: identity.id, advertise: options.advertise });
    for (const url of await readPeerUrls(node.home.peers)) {
      try {
        peers.dial(parsePeerUrl(url));
      } catch (err) {
        log("warn", "peer-url-skipped", { url, why: oneLine(err) });
      }
    }
    const ctx: ServiceContext = {
      kernel,
      cas: node.cas,
      home: node.home,
      identity,
      peers,
      advertise: options.advertise,
      listenPort: bound.port,
      setAdvertise: (url) => peers.setAdvertise(url),
      relay: options.relay,
      netsDir: options.netsDir ?? defaultNetsDir(node.home.root),
      announce: options.announce,
      log,
      signal: stop,
    };
    for (const service of SERVICES) {
      await service.start(ctx);
      log("info", "service-up", { service: service.name });
    }
    const { clearViews, startViews } = await import("./dashboard.ts");
    // A file left by an agent that was killed would name servers that are gone.
    await clearViews(node.home.state);
    if ((options.dashboard ?? options.metrics) !== undefined && MESH_SERVICE.mesh) {
      await startViews({
        dashboard: options.dashboard,
        metrics: options.metrics,
        mesh: MESH_SERVICE.mesh,
        kernel,
        nodeId: identity.id,
        stateDir: node.home.state,
        io: options.io,
        log,
        signal: stop,
      });
    }
    const mesh = MESH_SERVICE.mesh;
    if ((options.dns ?? options.hostsFile) !== undefined && mesh) {
      const { startNames } = await import("../modules/names/mod.ts");
      names = await startNames({
        sets: () => mesh.nets.names().flatMap((n) => mesh.nets.get(n)?.set ?? []),
        onChange: (listener) => mesh.nets.onChange(() => listener()),
        dns: options.dns,
        suffix: options.dnsSuffix,
        hostsFile: options.hostsFile,
        log,
        signal: stop,
      });
    }
    if (!stop.aborted) {
      await new Promise<void>((resolve) => stop.addEventListener("abort", () => resolve()));
    }
    log("info", "agent-stopping", {});
  } finally {
    await names?.settled();
    await peers.close();
    await control.close();
  }
}

/**
 * Where an agent looks for nets to join at start when not told: the system
 * directory for the system home (the grid service's), the home's `nets.d`
 * for any other home (so a test or a second agent never joins the system's nets).
 */
export function defaultNetsDir(homeRoot: string): string {
  return homeRoot === SYSTEM_HOME ? SYSTEM_NETS_DIR : `${homeRoot}/nets.d`;
}

/** True when an agent answers on this home's control socket. */
export async function agentRunning(root: string): Promise<boolean> {
  return await agentAnswers(controlSocketPath(root));
}

/**
 * Listens on `hostname:port`; `::` (every address, both families) falls
 * back to `0.0.0.0` on a host whose kernel has no IPv6 at all.
 */
async function listenAnyFamily(
  peers: PeerHub,
  hostname: string,
  port: number,
  log: Logger,
): Promise<Listening> {
  try {
    return await peers.listen(hostname, port);
  } catch (err) {
    if (hostname !== "::" || !/EAFNOSUPPORT|family not supported/i.test(String(err))) throw err;
    log("warn", "listen-ipv4-only", { why: oneLine(err) });
    return await peers.listen("0.0.0.0", port);
  }
}
