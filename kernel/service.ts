/**
 * Services: long-lived modules the agent (`grid serve`) starts, such as the
 * WireGuard mesh. A service gets the node's kernel, store, identity and peers,
 * registers whatever modules it needs with the kernel, and runs until the
 * signal aborts.
 *
 * @module
 */
import type { Kernel } from "./kernel.ts";
import type { Cas } from "./cas.ts";
import type { GridHome } from "./home.ts";
import type { Identity } from "./identity.ts";
import type { PeerNetwork } from "./peer_network.ts";

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Log levels in increasing severity. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** One line per event: `event` is a short kebab-case name; fields must hold no secrets. */
export type Logger = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

/** What a service is given when the agent starts it. */
export interface ServiceContext {
  /** The agent's kernel, to register modules and accept promises. */
  readonly kernel: Kernel;
  /** The agent's content store. */
  readonly cas: Cas;
  /** The grid home (`$GRID_HOME`). */
  readonly home: GridHome;
  /** This node's identity. */
  readonly identity: Identity;
  /** The agent's grid peers. */
  readonly peers: PeerNetwork;
  /** The WebSocket URL this agent advertises to peers (`grid serve --advertise`), or "auto". */
  readonly advertise?: string;
  /** The port the agent listens on for peers (for an advertised URL it works out itself). */
  readonly listenPort?: number;
  /** Tells the agent the URL to advertise in later handshakes (with `--advertise auto`). */
  readonly setAdvertise?: (url: string) => void;
  /** What the agent carries for other nodes (datagram relays); unset parts: the service's defaults. */
  readonly relay?: Partial<RelayPolicy>;
  /** Where the nets to join at start are (`grid serve --nets-dir`); "" or unset: none. */
  readonly netsDir?: string;
  /** False: announce nothing on the local network (`grid serve --no-announce`). */
  readonly announce?: boolean;
  /** Where the service logs events. */
  readonly log: Logger;
  /** Aborted when the agent stops. */
  readonly signal: AbortSignal;
}

/** What an agent relays between other nodes (`grid serve --no-relay`, `--relay-circuits`, `--relay-mbps`). */
export interface RelayPolicy {
  /** False: carry nothing between two other nodes. */
  readonly enabled: boolean;
  /** Most circuits carried at once. */
  readonly maxCircuits: number;
  /** Most bytes forwarded per second, over all circuits. */
  readonly maxBytesPerSecond: number;
}

/** A long-lived part of the agent. */
export interface Service {
  /** Short name for logs. */
  readonly name: string;
  /** Starts the service; resolves once it is running (not when it stops). */
  start(ctx: ServiceContext): Promise<void>;
}
