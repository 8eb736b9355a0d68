/**
 * The contract between the command line and a builtin command: what a
 * command is, and what it may use while it runs. Types only: the composition
 * root (agent/) wraps each command as a kernel module and fills the context;
 * the commands import nothing from it, so nothing here imports back.
 *
 * @module
 */
import type { CallContext, Cas, GridHome, Io, LogLevel, RelayPolicy } from "../kernel/mod.ts";

/** A subcommand, as a builtin module. */
export interface Command {
  /** The name users type: `grid NAME`. */
  readonly name: string;
  /** The promise the caller makes by running it; `grid --show NAME` prints it. */
  readonly promise: string;
  /** One usage line, e.g. `grid put FILE`. */
  readonly usage: string;
  /** One line saying what it does. */
  readonly summary: string;
  /** Where `grid --help` lists it. */
  readonly group: "mesh" | "peers" | "content";
  /** Its arguments and options, each with one line of help (`grid NAME --help`). */
  readonly options?: readonly (readonly [string, string])[];
  /** Runs in the caller's own process, never forwarded to a running agent (e.g. `serve`). */
  readonly foreground?: boolean;
  /** Its arguments may name local files: made absolute before it is forwarded to an agent. */
  readonly fileArgs?: boolean;
  /**
   * An argument `-` stands for standard input and `@FILE` for a file's
   * content (trimmed), read by the command line before the command runs or is
   * forwarded: a secret such as an invite need not appear in the process list.
   */
  readonly inputArgs?: boolean;
  /** Runs it; returns the exit code. Throws GridError for clear failures. */
  run(args: string[], ctx: CommandContext): Promise<number>;
}

/** The parts of the node a command may use. */
export interface NodeHandle {
  /** The node's grid home. */
  readonly home: GridHome;
  /** The node's content store. */
  readonly cas: Cas;
}

/** How to run the agent in this process (`grid serve`, a foreground join). */
export interface AgentRun {
  /** `HOST:PORT` to listen on for peers. */
  listen: string;
  /** URL peers should dial this agent at. */
  advertise?: string;
  /** Least severe level logged (default "info"). */
  logLevel?: LogLevel;
  /** Stops the agent. */
  signal: AbortSignal;
  /** Where the "listening" line goes (default: the command's output). */
  io?: Io;
  /** Where log lines go (default: stderr). */
  logSink?: (line: string) => void;
  /** What the agent relays for other nodes (unset parts: the defaults). */
  relay?: Partial<RelayPolicy>;
  /**
   * Where the nets to join at start are (`NET.invite` files); "" for none.
   * Default: /etc/grid/nets.d for the system home (/var/lib/grid), else `$GRID_HOME/nets.d`.
   */
  netsDir?: string;
  /** False: announce no open net on the local network (`grid serve --no-announce`). */
  announce?: boolean;
  /** `HOST:PORT` to serve the read-only dashboard on (none: no dashboard). */
  dashboard?: string;
  /** `HOST:PORT` to serve Prometheus metrics on (none: no metrics). */
  metrics?: string;
  /** `IP[:PORT]` to answer members' names on (none: no DNS; see docs/names.md). */
  dns?: string;
  /** The names' suffix (default `grid`: `NAME.NET.grid`). */
  dnsSuffix?: string;
  /** A hosts file whose grid block to keep (none: no file). */
  hostsFile?: string;
}

/** What a running command may use. */
export interface CommandContext {
  /** The node: home and store. */
  readonly node: NodeHandle;
  /** The caller's terminal. */
  readonly io: Io;
  /** Aborted when the command should stop (Ctrl-C, agent shutdown). */
  readonly signal: AbortSignal;
  /** Sends a message through the kernel (same governance and routing as any other). */
  readonly call: CallContext["call"];
  /** Runs this node's agent here until `options.signal` aborts. */
  readonly runAgent: (options: AgentRun) => Promise<void>;
}
