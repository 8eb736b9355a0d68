/**
 * A net on disk: `$GRID_HOME/state/nets/NAME/` holds `settings.json` (this
 * node's interface, port and endpoint for the net), `records/` (one file per
 * signed record, named by its hash), `announcements.cbor` (the members'
 * latest announcements), the WireGuard key (`wg.key`, 0600, made by `wg
 * genkey`), the PSK key seed (`kem.seed`, 0600) and one 0600 file per peer
 * under `psk/`. Every write is atomic, so a crash leaves either the old
 * or the new file, and the agent rebuilds its state from here on restart.
 *
 * @module
 */
import {
  type GridHome,
  writeFileAtomic,
  writeFilesAtomic,
  writeTextFileAtomic,
} from "../../kernel/mod.ts";
import { MembershipError } from "./errors.ts";
import { checkNetName } from "./patterns.ts";

/** This node's settings for one net. */
export interface NetSettings {
  /** Net name. */
  name: string;
  /** Net id (hash of the genesis record). */
  net: string;
  /** WireGuard interface name. */
  interface: string;
  /** WireGuard UDP port. */
  listenPort: number;
  /** `host:port` this node's WireGuard is reachable at, when known. */
  endpoint?: string;
  /** Set when an admin's revoke of this node reached it: who, and the record's id. */
  revoked?: { by: string; record: string };
}

/** The folder of net `name`. */
export function netDir(home: GridHome, name: string): string {
  return `${home.state}/nets/${checkNetName(name)}`;
}

/** Names of the nets with settings on disk. */
export async function listNetNames(home: GridHome): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${home.state}/nets`)) {
      if (!entry.isDirectory) continue;
      try {
        await Deno.stat(`${home.state}/nets/${entry.name}/settings.json`);
        names.push(entry.name);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

/** Reads a net's settings; undefined when the net is not here. */
export async function readSettings(home: GridHome, name: string): Promise<NetSettings | undefined> {
  const path = `${netDir(home, name)}/settings.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    const value = JSON.parse(text);
    if (
      typeof value?.name !== "string" || typeof value.net !== "string" ||
      typeof value.interface !== "string" || typeof value.listenPort !== "number"
    ) throw new Error("missing fields");
    return value as NetSettings;
  } catch (err) {
    throw new MembershipError(`Net settings "${path}" are corrupt: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Writes a net's settings atomically (0600). */
export async function writeSettings(home: GridHome, settings: NetSettings): Promise<void> {
  await writeTextFileAtomic(
    `${netDir(home, settings.name)}/settings.json`,
    JSON.stringify(settings, null, 2) + "\n",
    { mode: 0o600 },
  );
}

/** The record files of a net, as bytes; those named in `skip` (known already) are not read. */
export async function readRecordFiles(
  home: GridHome,
  name: string,
  skip: { has(id: string): boolean } = new Set(),
): Promise<Uint8Array[]> {
  const dir = `${netDir(home, name)}/records`;
  const out: Uint8Array[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || entry.name.startsWith(".") || skip.has(entry.name)) continue;
      out.push(await Deno.readFile(`${dir}/${entry.name}`));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

/** Keeps one record under its hash. */
export async function writeRecordFile(
  home: GridHome,
  name: string,
  id: string,
  bytes: Uint8Array,
): Promise<void> {
  await writeFileAtomic(`${netDir(home, name)}/records/${id}`, bytes, { mode: 0o644 });
}

/** Keeps several records of net `name` on disk, with one directory sync for all. */
export async function writeRecordFiles(
  home: GridHome,
  name: string,
  records: { id: string; bytes: Uint8Array }[],
): Promise<void> {
  await writeFilesAtomic(
    `${netDir(home, name)}/records`,
    records.map((r) => ({ name: r.id, data: r.bytes })),
    { mode: 0o644 },
  );
}

/** Removes a net's folder (after leaving, or when a join failed); gone already is fine. */
export async function removeNetDir(home: GridHome, name: string): Promise<void> {
  try {
    await Deno.remove(netDir(home, name), { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Reads a secret file, creating it 0600 from `make()` when missing. */
export async function ensureSecret(path: string, make: () => Uint8Array): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const value = make();
  await writeFileAtomic(path, value, { mode: 0o600 });
  return value;
}
