/**
 * The one flag parser every command uses: `node:util` parseArgs, strict,
 * with positionals counted, so every mistake is one {@link UsageError} line
 * that quotes the command's usage.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import type { LogLevel, RelayPolicy } from "../kernel/mod.ts";
import { LOG_LEVELS, UsageError } from "../kernel/base/mod.ts";

/** The flags a command takes, as `node:util` parseArgs describes them. */
export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flags and positionals. */
export interface ParsedFlags {
  /** Flag values by name (a flag with `multiple` gives an array). */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** The arguments that are not flags, in order. */
  positionals: string[];
}

/** How many positionals a command takes. */
export interface PositionalCount {
  /** At least this many. */
  min: number;
  /** At most this many. */
  max: number;
}

/**
 * Parses `args` strictly; any mistake is a {@link UsageError} quoting `usage`.
 * Async because it loads `node:util` on first use: the command descriptions
 * that import this file load without Deno's Node layer.
 */
export async function parseFlags(
  args: string[],
  options: FlagSpec,
  usage: string,
  positionals: PositionalCount,
): Promise<ParsedFlags> {
  const { parseArgs } = await import("node:util");
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValuesInline(args, options),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const why = (err as Error).message.split("\n")[0].replace(/\. To specify a positional.*$/, "");
    throw new UsageError(`${why}; usage: ${usage}`, { cause: err });
  }
  const n = parsed.positionals.length;
  if (n < positionals.min || n > positionals.max) throw new UsageError(`Usage: ${usage}`);
  return parsed as ParsedFlags;
}

/** A text flag's value (undefined when absent). */
export function flagText(flags: ParsedFlags, name: string): string | undefined {
  const v = flags.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A boolean flag's value. */
export function flagSet(flags: ParsedFlags, name: string): boolean {
  return flags.values[name] === true;
}

/** Every value of a repeatable text flag. */
export function flagList(flags: ParsedFlags, name: string): string[] {
  const v = flags.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
}

/**
 * `--flag -5m` as `--flag=-5m` for string flags, so a value that starts with
 * a dash and a digit reaches the command's own check (and its clear message)
 * instead of Node's "argument is ambiguous".
 */
export function negativeValuesInline(args: string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : undefined;
    const next = args[i + 1];
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-[0-9]/.test(next)
    ) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** Parses a port flag. */
export function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`Invalid port "${text}": use 1 to 65535`);
  }
  return port;
}

/**
 * Default `--listen` of the agent: every interface, port 7340, IPv6 and
 * IPv4 alike (one dual-stack socket), so an IPv6-only host is reachable too.
 */
export const DEFAULT_LISTEN = "[::]:7340";

/** Parses a `--log-level` value. */
export function parseLogLevel(text: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new UsageError(`Invalid log level "${text}": use ${LOG_LEVELS.join(", ")}`);
  }
  return text as LogLevel;
}

/** The relay flags of the commands that run the agent. */
export const RELAY_FLAGS: FlagSpec = {
  "no-relay": { type: "boolean" },
  "relay-circuits": { type: "string" },
  "relay-mbps": { type: "string" },
};

/** Their usage text. */
export const RELAY_USAGE = "[--no-relay] [--relay-circuits N] [--relay-mbps N]";

/**
 * What the agent may relay for others, from {@link RELAY_FLAGS}: `--no-relay`
 * refuses every circuit between two other nodes; `--relay-circuits` (1-4096)
 * and `--relay-mbps` (1-100000 Mbit/s) bound the rest. Unset: the defaults.
 */
export function parseRelayFlags(flags: ParsedFlags): Partial<RelayPolicy> {
  const out: { enabled?: boolean; maxCircuits?: number; maxBytesPerSecond?: number } = {};
  if (flagSet(flags, "no-relay")) out.enabled = false;
  const count = (name: string, max: number): number | undefined => {
    const text = flagText(flags, name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || n < 1 || n > max) {
      throw new UsageError(`Invalid --${name} "${text}": use a whole number from 1 to ${max}`);
    }
    return n;
  };
  const circuits = count("relay-circuits", 4096);
  if (circuits !== undefined) out.maxCircuits = circuits;
  const mbps = count("relay-mbps", 100_000);
  if (mbps !== undefined) out.maxBytesPerSecond = mbps * 125_000;
  if (out.enabled === false && (circuits !== undefined || mbps !== undefined)) {
    throw new UsageError("--no-relay relays nothing: drop --relay-circuits and --relay-mbps");
  }
  return out;
}
