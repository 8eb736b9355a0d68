/**
 * `grid serve [--listen HOST:PORT] [--advertise URL|auto] [--log-level LEVEL]
 * [--nets-dir DIR] [--no-announce] [--no-relay] [--relay-circuits N] [--relay-mbps N]
 * [--dashboard ADDR] [--metrics ADDR]`: runs
 * the agent in the foreground until Ctrl-C or SIGTERM. Never started as a side
 * effect of another command. At start it joins the nets whose invite files
 * are in the nets directory (fleet provisioning; see docs/fleet.md). By
 * default the agent relays WireGuard packets (which it cannot read) between
 * members that have no direct path, within its limits. It announces the open
 * nets it belongs to on the local network (modules/discovery/) unless told not to.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import {
  DEFAULT_LISTEN,
  flagSet,
  flagText,
  parseFlags,
  parseLogLevel,
  parseRelayFlags,
  RELAY_FLAGS,
  RELAY_USAGE,
} from "./_flags.ts";

const USAGE =
  `grid serve [--listen HOST:PORT] [--advertise URL|auto] [--log-level LEVEL] [--nets-dir DIR] [--no-announce] ${RELAY_USAGE} [--dashboard ADDR] [--metrics ADDR]`;

/** `--dashboard 7341` is `127.0.0.1:7341`: loopback unless an address is given. */
export function viewAddress(value: string | undefined): string | undefined {
  return value !== undefined && /^\d{1,5}$/.test(value) ? `127.0.0.1:${value}` : value;
}

/** The serve command. */
export const command: Command = {
  name: "serve",
  promise:
    "I promise to run this node's agent for as long as I choose: to answer my peers' requests by the promises this node accepts, to pass on only content I verified against its hash, and never to send a private key anywhere.",
  usage: USAGE,
  summary: "run the agent: listen for peers, dial known peers, serve lookups",
  group: "mesh",
  options: [
    ["--listen HOST:PORT", "where peers connect (default 0.0.0.0:7340)"],
    [
      "--advertise URL|auto",
      "the URL peers dial this node at; auto: this host's address towards its peers",
    ],
    ["--log-level LEVEL", "debug, info, warn or error (default info)"],
    [
      "--nets-dir DIR",
      'join the nets whose NET.invite files are here at start (default /etc/grid/nets.d with the system home, else $GRID_HOME/nets.d; "" for none)',
    ],
    ["--no-announce", "do not announce this node's open nets on the local network (UDP 7341)"],
    ["--no-relay", "carry no traffic between two other members"],
    ["--relay-circuits N", "relay at most N pairs (default 32)"],
    ["--relay-mbps N", "relay at most N Mbit/s in all (default 100)"],
    [
      "--dashboard [HOST:]PORT",
      "serve a read-only live dashboard (e.g. 127.0.0.1:7341; not loopback: a token is printed)",
    ],
    ["--metrics [HOST:]PORT", "serve Prometheus metrics at /metrics (same access rule)"],
  ],
  foreground: true,
  async run(args, ctx) {
    const flags = await parseFlags(
      args,
      {
        listen: { type: "string" },
        advertise: { type: "string" },
        "log-level": { type: "string" },
        "nets-dir": { type: "string" },
        "no-announce": { type: "boolean" },
        dashboard: { type: "string" },
        metrics: { type: "string" },
        ...RELAY_FLAGS,
      },
      USAGE,
      { min: 0, max: 0 },
    );
    const dashboard = viewAddress(flagText(flags, "dashboard"));
    const metrics = viewAddress(flagText(flags, "metrics"));
    if (dashboard !== undefined || metrics !== undefined) {
      // A mistyped address is a usage error now, before the agent starts.
      const { parseServerAddress } = await import("../modules/dashboard/mod.ts");
      if (dashboard !== undefined) parseServerAddress(dashboard, "--dashboard");
      if (metrics !== undefined) parseServerAddress(metrics, "--metrics");
    }
    await ctx.runAgent({
      io: ctx.io,
      signal: ctx.signal,
      listen: flagText(flags, "listen") ?? DEFAULT_LISTEN,
      advertise: flagText(flags, "advertise"),
      logLevel: parseLogLevel(flagText(flags, "log-level") ?? "info"),
      relay: parseRelayFlags(flags),
      netsDir: flagText(flags, "nets-dir"),
      announce: !flagSet(flags, "no-announce"),
      dashboard,
      metrics,
    });
    return 0;
  },
};
