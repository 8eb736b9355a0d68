/**
 * Joining on boot: the nets this node should be in, one file each in a
 * directory (`/etc/grid/nets.d/NET.invite` for the system agent), joined when
 * the agent starts. A fleet gets one image or cloud-init script: every server
 * boots with the same multi-use invite and joins; a reboot, a re-run or a
 * token this node already used changes nothing, because a node that is a
 * member already is left as it is and an inviter answers a node it admitted
 * before with the same admission (see docs/fleet.md).
 *
 * A file holds the invite token alone, or `KEY = VALUE` lines (`#` starts a
 * comment):
 *
 * ```
 * invite = grid1.…
 * name = web-3            # this node's name in the net (default: the host name)
 * interface = wg0         # default grid-NET
 * listen-port = 51820     # default the first free one
 * endpoint = 203.0.113.5:51820
 * ```
 *
 * The file is a secret: it must belong to the agent's user (or root) and be
 * readable by no one else, as ssh asks of a private key.
 *
 * @module
 */
import { ConfigError, GridError, oneLine, UsageError } from "../../kernel/mod.ts";
import type { Logger } from "../../kernel/mod.ts";
import { sleep } from "../../kernel/peers/mod.ts";
import { JoinUnreachable } from "../membership/mod.ts";
import type { JoinRequest, JoinResult } from "./protocol.ts";

/** Where the system agent (root) looks for nets to join. */
export const SYSTEM_NETS_DIR = "/etc/grid/nets.d";

/** What a nets file may be called: `NET.invite`. */
export const NET_FILE_SUFFIX = ".invite";

/** The largest nets file read (an invite is a few hundred bytes). */
export const MAX_NET_FILE_BYTES = 16 * 1024;

/** The first and the longest wait between tries of a join that could not reach a member. */
export const BOOT_RETRY = { firstMs: 1000, maxMs: 60_000 } as const;

/** One net to be in, read from `path`. */
export interface NetFile {
  /** The file it came from (for logs). */
  path: string;
  /** The join it asks for. */
  request: JoinRequest;
}

const KEYS = ["invite", "name", "interface", "listen-port", "endpoint"] as const;

/**
 * Reads nets file `path` (net `net`, from its file name). Pure: a file that
 * is not a token alone or known `KEY = VALUE` lines is a one-line
 * {@link ConfigError} naming the file and the line.
 */
export function parseNetFile(path: string, net: string, text: string): NetFile {
  const lines = text.split("\n").map((l) => l.replace(/#.*$/, "").trim());
  const used = lines.map((l, i) => [l, i + 1] as const).filter(([l]) => l !== "");
  const values = new Map<string, string>();
  if (used.length === 1 && !used[0][0].includes("=")) {
    values.set("invite", used[0][0]);
  } else {
    for (const [line, n] of used) {
      const eq = line.indexOf("=");
      const key = eq < 0 ? "" : line.slice(0, eq).trim();
      const value = eq < 0 ? "" : line.slice(eq + 1).trim();
      if (!(KEYS as readonly string[]).includes(key) || value === "") {
        throw new ConfigError(
          `${path}:${n}: expected an invite token alone or KEY = VALUE with KEY one of ${
            KEYS.join(", ")
          }`,
        );
      }
      if (values.has(key)) throw new ConfigError(`${path}:${n}: "${key}" given twice`);
      values.set(key, value);
    }
  }
  const invite = values.get("invite");
  if (invite === undefined) throw new ConfigError(`${path}: no invite in the file`);
  if (!/^grid\d+\.\S+$/.test(invite)) {
    throw new ConfigError(`${path}: the invite is not a grid invite token (grid1.…)`);
  }
  const portText = values.get("listen-port");
  const listenPort = portText === undefined ? undefined : Number(portText);
  if (
    listenPort !== undefined &&
    (!/^\d{1,5}$/.test(portText!) || listenPort < 1 || listenPort > 65535)
  ) {
    throw new ConfigError(`${path}: listen-port "${portText}" is not a UDP port (1-65535)`);
  }
  return {
    path,
    request: {
      name: net,
      invite,
      nodeName: values.get("name"),
      interface: values.get("interface"),
      listenPort,
      endpoint: values.get("endpoint"),
    },
  };
}

/** What {@link readNetsDir} found: the nets to join, and files it refused (one line each). */
export interface NetsDir {
  files: NetFile[];
  problems: { path: string; why: string }[];
}

/**
 * Reads every `NET.invite` in `dir` (sorted by name; other names are left
 * alone). A missing directory is no nets. A file another user could read, or
 * that belongs to someone other than `uid` or root, is refused, not read.
 */
export async function readNetsDir(dir: string, uid: number): Promise<NetsDir> {
  const out: NetsDir = { files: [], problems: [] };
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    out.problems.push({ path: dir, why: `cannot read the directory: ${oneLine(err)}` });
    return out;
  }
  const names = entries.filter((e) => e.name.endsWith(NET_FILE_SUFFIX)).map((e) => e.name).sort();
  for (const name of names) {
    const path = `${dir}/${name}`;
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) throw new ConfigError(`${path}: not a regular file`);
      if (info.uid !== uid && info.uid !== 0) {
        throw new ConfigError(`${path}: belongs to uid ${info.uid}, not to this agent's user`);
      }
      if (info.mode !== null && (info.mode & 0o077) !== 0) {
        throw new ConfigError(
          `${path}: others can read it (mode ${
            (info.mode & 0o777).toString(8)
          }); it holds a secret: chmod 600 ${path}`,
        );
      }
      if (info.size > MAX_NET_FILE_BYTES) {
        throw new ConfigError(`${path}: larger than ${MAX_NET_FILE_BYTES} bytes`);
      }
      const net = name.slice(0, -NET_FILE_SUFFIX.length);
      out.files.push(parseNetFile(path, net, await Deno.readTextFile(path)));
    } catch (err) {
      out.problems.push({ path, why: oneLine(err) });
    }
  }
  return out;
}

/**
 * True when a failed join may succeed if tried again unchanged: no member
 * could be reached (not up yet, network down, busy). A member's refusal, a
 * bad invite or a local problem (revoked, an interface in the way) is not.
 */
export function retriable(err: unknown): boolean {
  if (err instanceof JoinUnreachable) return true;
  if (err instanceof GridError) return false;
  return !(err instanceof UsageError);
}

/** What {@link joinNetsAtBoot} needs from the agent. */
export interface BootJoinDeps {
  /** Joins (the mesh's `join`; a node already in the net gets `already`). */
  join(request: JoinRequest, signal: AbortSignal): Promise<JoinResult>;
  log: Logger;
  signal: AbortSignal;
  /** Waits `ms` or until aborted (tests pass a fake clock). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Jitter in [0, 1) (default Math.random). */
  random?: () => number;
}

/**
 * Joins each net of `files` in turn, once. A join that could not reach a
 * member is tried again later (1 s, doubling up to a minute, with jitter so
 * a fleet does not retry in step) until it succeeds or the agent stops; any
 * other failure is logged once and left: the file needs the operator.
 * Resolves when every net is joined or given up.
 */
export async function joinNetsAtBoot(files: NetFile[], deps: BootJoinDeps): Promise<void> {
  const wait = deps.sleep ?? sleep;
  const random = deps.random ?? Math.random;
  let pending = files.map((f) => ({ ...f, tries: 0, waitMs: 0 }));
  while (pending.length > 0 && !deps.signal.aborted) {
    const later: typeof pending = [];
    for (const file of pending) {
      if (deps.signal.aborted) return;
      file.tries++;
      try {
        const result = await deps.join(file.request, deps.signal);
        deps.log(result.already ? "debug" : "info", "boot-join", {
          net: file.request.name,
          file: file.path,
          address: result.address,
          already: result.already ? "yes" : undefined,
          tries: file.tries,
        });
      } catch (err) {
        if (deps.signal.aborted) return;
        if (!retriable(err)) {
          deps.log("error", "boot-join-failed", {
            net: file.request.name,
            file: file.path,
            why: oneLine(err),
          });
          continue;
        }
        file.waitMs = Math.min(
          BOOT_RETRY.maxMs,
          file.waitMs === 0 ? BOOT_RETRY.firstMs : file.waitMs * 2,
        );
        deps.log("warn", "boot-join-retry", {
          net: file.request.name,
          tries: file.tries,
          retryMs: file.waitMs,
          why: oneLine(err),
        });
        later.push(file);
      }
    }
    pending = later;
    if (pending.length === 0) break;
    const waitMs = Math.min(...pending.map((f) => f.waitMs));
    await wait(Math.round(waitMs * (0.75 + random() * 0.5)), deps.signal);
  }
}
