/**
 * Names on a running agent: keeps the name table in line with the member
 * sets (on every change, and every {@link REFRESH_MS} for what sends no
 * event, such as leaving a net), answers DNS from it and, if asked, keeps
 * the grid block of a hosts file.
 *
 * @module
 */
import type { Logger } from "../../kernel/mod.ts";
import { liveMembers, type MemberSet } from "../membership/mod.ts";
import { startDnsServer } from "./dns_server.ts";
import { hostsLines, updateHostsFile } from "./hosts_file.ts";
import { buildNameTable, DEFAULT_SUFFIX, type NamedNet, type NameTable } from "./name_table.ts";

/** How often the table is rebuilt even without a change event. */
export const REFRESH_MS = 5_000;

/** The live members of each net, as the name table reads them. */
export function namedNets(sets: Iterable<MemberSet>): NamedNet[] {
  return [...sets].map((set) => ({
    net: set.net.name,
    members: liveMembers(set).map((m) => ({
      id: m.id,
      name: m.name,
      joined: m.joined,
      addresses: [m.address, m.address6],
    })),
  }));
}

/** Options for {@link startNames}. */
export interface NamesOptions {
  /** The current member sets. */
  sets: () => Iterable<MemberSet>;
  /** Subscribes to member-set changes; returns the unsubscribe. */
  onChange: (listener: () => void) => () => void;
  /** `IP[:PORT]` to answer DNS on; none: no responder. */
  dns?: string;
  /** Hosts file whose grid block to keep; none: no file. */
  hostsFile?: string;
  /** Suffix (default `grid`). */
  suffix?: string;
  /** Where events are logged. */
  log: Logger;
  /** Stops everything; the hosts block is then removed. */
  signal: AbortSignal;
}

/** What runs: the current table, and the DNS address if the responder is bound. */
export interface Names {
  /** The current names. */
  table(): NameTable;
  /** `HOST:PORT` the responder answers on, if it runs. */
  dnsAddress(): string | undefined;
  /** Rebuilds the table now (and rewrites the hosts block if it changed). */
  refresh(): Promise<void>;
  /** Resolves when the hosts file writes, the last one after the stop included, are done. */
  settled(): Promise<void>;
}

/**
 * Starts names. A responder that cannot bind (the address taken or not
 * there yet, no privilege for port 53) is one warning and a retry at each
 * refresh, not a failed agent: the mesh works without names.
 */
export async function startNames(options: NamesOptions): Promise<Names> {
  const suffix = options.suffix ?? DEFAULT_SUFFIX;
  const build = () => buildNameTable(namedNets(options.sets()), suffix);
  let table = build();
  let written: string | undefined;
  let hostsFailure: string | undefined;
  let writing = Promise.resolve();
  const log = options.log;

  const writeHosts = (lines: string[]) => {
    const path = options.hostsFile;
    if (path === undefined) return writing;
    const key = lines.join("\n");
    if (key === written) return writing;
    writing = writing.then(async () => {
      try {
        if (await updateHostsFile(path, lines)) {
          log("info", "hosts-file-written", { path, names: lines.length });
        }
        written = key;
      } catch (err) {
        // Retried at each refresh; said once per reason.
        const why = err instanceof Error ? err.message : String(err);
        if (why !== hostsFailure) log("warn", "hosts-file-failed", { path, why });
        hostsFailure = why;
      }
    });
    return writing;
  };
  const refresh = async () => {
    if (options.signal.aborted) return;
    table = build();
    await bind();
    await writeHosts(hostsLines(table));
  };

  let dnsAddress: string | undefined;
  let dnsFailure: string | undefined;
  /** Binds the responder; one that cannot bind yet is retried at each refresh, warned once. */
  const bind = async () => {
    if (options.dns === undefined || dnsAddress !== undefined || options.signal.aborted) return;
    try {
      const server = await startDnsServer(options.dns, {
        table: () => table,
        suffix,
        signal: options.signal,
        onError: (why) => log("warn", "dns-error", { why }),
      });
      dnsAddress = server.address;
      log("info", "dns-up", { address: server.address, suffix });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (why !== dnsFailure) log("warn", "dns-unavailable", { address: options.dns, why });
      dnsFailure = why;
    }
  };
  await bind();
  await writeHosts(hostsLines(table));

  let soon: ReturnType<typeof setTimeout> | undefined;
  const off = options.onChange(() => {
    if (soon === undefined) {
      soon = setTimeout(() => {
        soon = undefined;
        void refresh();
      }, 100);
    }
  });
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  options.signal.addEventListener("abort", () => {
    off();
    clearInterval(timer);
    if (soon !== undefined) clearTimeout(soon);
    // The names go with the agent: a stale block would point at old addresses.
    if (options.hostsFile !== undefined) void writeHosts([]);
  }, { once: true });
  return {
    table: () => table,
    dnsAddress: () => dnsAddress,
    refresh,
    settled: () => writing,
  };
}
