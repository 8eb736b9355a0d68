/**
 * `grid serve [--listen HOST:PORT] [--advertise URL|auto] [--log-level LEVEL]
 * [--nets-dir DIR] [--no-announce] [--no-relay] [--relay-circuits N] [--relay-mbps N]
 * [--dashboard ADDR] [--metrics ADDR] [--dns IP[:PORT]|--no-dns] [--dns-suffix S]
 * [--hosts-file PATH]`: runs
 * the agent in the foreground until Ctrl-C or SIGTERM. Never started as a side
 * effect of another command. At start it joins the nets whose invite files
 * are in the nets directory (fleet provisioning; see docs/fleet.md). By
 * default the agent relays WireGuard packets (which it cannot read) between
 * members that have no direct path, within its limits. It answers members'
 * names (`NAME.NET.grid`) on 127.0.77.53:53 (docs/names.md), and announces the
 * open nets it belongs to on the local network (modules/discovery/) unless told not to.
 *
 * @module
 */
import type { Command } from "./_command.ts";
import { UsageError } from "../kernel/base/mod.ts";
import {
  DEFAULT_LISTEN,
  flagSet,
  flagText,
  type ParsedFlags,
  parseFlags,
  parseLogLevel,
  parseRelayFlags,
  RELAY_FLAGS,
  RELAY_USAGE,
} from "./_flags.ts";

const USAGE =
  `grid serve [--listen HOST:PORT] [--advertise URL|auto] [--log-level LEVEL] [--nets-dir DIR] [--no-announce] ${RELAY_USAGE} [--dashboard ADDR] [--metrics ADDR] [--dns IP[:PORT]|--no-dns] [--dns-suffix SUFFIX] [--hosts-file PATH]`;

/** `--dashboard 7341` is `127.0.0.1:7341`: loopback unless an address is given. */
export function viewAddress(value: string | undefined): string | undefined {
  return value !== undefined && /^\d{1,5}$/.test(value) ? `127.0.0.1:${value}` : value;
}

/** `--dns`, `--no-dns`, `--dns-suffix`, `--hosts-file`, checked now: a typo is a usage error. */
async function parseNameFlags(
  flags: ParsedFlags,
): Promise<{ dns?: string; dnsSuffix?: string; hostsFile?: string }> {
  const dns = flagText(flags, "dns");
  const off = flagSet(flags, "no-dns");
  if (off && dns !== undefined) throw new UsageError("--no-dns answers no names: drop --dns");
  const suffix = flagText(flags, "dns-suffix");
  const hostsFile = flagText(flags, "hosts-file");
  if (hostsFile === "") throw new UsageError('Invalid --hosts-file "": give a path');
  const { DEFAULT_DNS_ADDRESS, parseDnsAddress, parseSuffix } = await import(
    "../modules/names/mod.ts"
  );
  try {
    if (dns !== undefined) parseDnsAddress(dns);
    return {
      dns: off ? undefined : dns ?? DEFAULT_DNS_ADDRESS,
      dnsSuffix: suffix === undefined ? undefined : parseSuffix(suffix),
      hostsFile,
    };
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
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
    ["--listen HOST:PORT", "where peers connect (default [::]:7340)"],
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
    ["--dns IP[:PORT]", "answer members' names (NAME.NET.grid) here (default 127.0.77.53:53)"],
    ["--no-dns", "answer no names"],
    ["--dns-suffix SUFFIX", "the names' last labels (default grid)"],
    ["--hosts-file PATH", "also keep the names in a managed block of this hosts file"],
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
        dns: { type: "string" },
        "no-dns": { type: "boolean" },
        "dns-suffix": { type: "string" },
        "hosts-file": { type: "string" },
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
    const names = await parseNameFlags(flags);
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
      ...names,
    });
    return 0;
  },
};
