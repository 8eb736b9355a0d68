/**
 * The operator's list of native module hashes this node may run:
 * `$GRID_HOME/allowed`, one hash per line, written atomically (0600).
 * Nothing else adds to it: `grid allow HASH` is the only way in.
 *
 * @module
 */
import {
  type CID,
  ConfigError,
  type GridHome,
  hashToText,
  parseHash,
  withFileLock,
  writeTextFileAtomic,
} from "../../kernel/mod.ts";

/** Path of the allow list in a home. */
export function allowedPath(home: GridHome): string {
  return `${home.root}/allowed`;
}

/** The allowed hashes (text form); a missing file is an empty list. */
export async function readAllowed(home: GridHome): Promise<Set<string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(allowedPath(home));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return new Set();
    throw new ConfigError(`Cannot read "${allowedPath(home)}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    out.add(hashToText(parseHash(t)));
  }
  return out;
}

/** True when the operator allowed `cid`. */
export async function isAllowed(home: GridHome, cid: CID): Promise<boolean> {
  return (await readAllowed(home)).has(hashToText(cid));
}

/**
 * Adds `cid` to the list (atomically, under the list's lock so two `grid
 * allow` at once both land); false when it was already there.
 */
export function allowHash(home: GridHome, cid: CID): Promise<boolean> {
  return withFileLock(allowedPath(home), async () => {
    const all = await readAllowed(home);
    const text = hashToText(cid);
    if (all.has(text)) return false;
    all.add(text);
    await writeTextFileAtomic(allowedPath(home), [...all].sort().join("\n") + "\n", {
      mode: 0o600,
    });
    return true;
  });
}
