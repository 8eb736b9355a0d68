/**
 * The grid home: `$GRID_HOME`, else `/var/lib/grid` for root (the service's)
 * or `~/.grid`. It holds `config` (the symbol
 * table's hash and node settings), `cache/` (the CAS and cached answers),
 * `peers` (peer URLs), and whatever modules keep under `state/`. Created 0700.
 *
 * @module
 */
import { writeTextFileAtomic } from "./atomic_file.ts";
import { ConfigError } from "./errors.ts";

/** Paths inside one grid home. */
export interface GridHome {
  /** The home directory itself. */
  readonly root: string;
  /** JSON settings: the symbol table hash and node options. */
  readonly config: string;
  /** The node's cache root (CAS under `cache/cas`). */
  readonly cache: string;
  /** One peer URL per line. */
  readonly peers: string;
  /** Module state (identity, nets), each module under its own folder. */
  readonly state: string;
}

/** Where root's grid home is, as for the grid service (contrib/grid.service). */
export const SYSTEM_HOME = "/var/lib/grid";

/** What {@link resolveHome} looks at besides the environment. */
export interface HomeFacts {
  /** This process's user id (0: root). */
  uid: number | null;
  /** Whether a directory exists. */
  exists(path: string): boolean;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Resolves the home: `GRID_HOME`; else, for root, {@link SYSTEM_HOME} (the
 * grid service's, so the command line and the service share one identity
 * and one agent; `~/.grid` only when that exists and the system home does
 * not, as before); else `$HOME/.grid`.
 */
export function resolveHome(
  env: { get(name: string): string | undefined } = Deno.env,
  facts: HomeFacts = { uid: Deno.uid(), exists: isDir },
): GridHome {
  const explicit = env.get("GRID_HOME");
  if (explicit && explicit.length > 0) return homeAt(explicit);
  const home = env.get("HOME");
  if (facts.uid === 0) {
    const legacy = home ? `${home}/.grid` : undefined;
    const useLegacy = legacy !== undefined && !facts.exists(SYSTEM_HOME) && facts.exists(legacy);
    return homeAt(useLegacy ? legacy : SYSTEM_HOME);
  }
  if (!home) throw new ConfigError("Cannot find the grid home: set GRID_HOME or HOME");
  return homeAt(`${home}/.grid`);
}

/**
 * Throws a one-line {@link ConfigError} when the home at `root` is unsafe
 * to use: owned by another user, or writable by others (another user could
 * plant a control socket or swap keys). A missing home is fine (it is made
 * 0700).
 */
export function checkHomeSafe(root: string, uid = Deno.uid()): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(root);
  } catch {
    return; // missing, or a path through a file: making it says what is wrong
  }
  if (info.isSymlink) {
    throw new ConfigError(`The grid home "${root}" is a symbolic link: refusing it`);
  }
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    throw new ConfigError(
      `The grid home "${root}" belongs to user ${info.uid}, not to you (${uid}): refusing it`,
    );
  }
  if (info.mode !== null && (info.mode & 0o022) !== 0) {
    throw new ConfigError(
      `The grid home "${root}" is writable by others (mode ${
        (info.mode & 0o777).toString(8)
      }): fix it with chmod 700 ${root}`,
    );
  }
}

/** The layout of a home rooted at `root`. */
export function homeAt(root: string): GridHome {
  const r = root.replace(/\/+$/, "") || "/";
  return {
    root: r,
    config: `${r}/config`,
    cache: `${r}/cache`,
    peers: `${r}/peers`,
    state: `${r}/state`,
  };
}

/**
 * Checks an existing home is safe ({@link checkHomeSafe}), then creates what
 * is missing (0700). Every command line starts here, so it works
 * synchronously (a few system calls cost less than the thread pool that
 * asynchronous ones go through) and writes nothing when all is there
 * (`Deno.writeTextFile` loads Deno's web streams on first use, about 2 ms;
 * docs/bench-cli.md).
 */
export async function ensureHome(home: GridHome): Promise<void> {
  checkHomeSafe(home.root);
  try {
    for (const dir of [home.root, home.cache, home.state]) {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    // Looked at before it is made; createNew still settles a race with another process.
    try {
      Deno.lstatSync(home.peers);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      try {
        await Deno.writeTextFile(home.peers, "", { createNew: true, mode: 0o600 });
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
    }
  } catch (err) {
    throw new ConfigError(`Cannot create grid home "${home.root}": ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The settings file. Unknown fields are kept as they are. */
export interface GridConfig {
  /** Hash of the symbol table in the CAS. */
  symbols?: string;
  /** Hash of the builtin symbol table that `symbols` was derived from. */
  builtins?: string;
  /** Settings other modules keep here, preserved as they are. */
  [field: string]: unknown;
}

/**
 * Reads `config`; a missing file is an empty config, a corrupt one an error.
 * A small file, read synchronously (see {@link ensureHome}).
 */
// deno-lint-ignore require-await -- async so that every failure arrives as a rejection, as before
export async function readConfig(home: GridHome): Promise<GridConfig> {
  let text: string;
  try {
    text = Deno.readTextFileSync(home.config);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new ConfigError(`Cannot read "${home.config}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const value = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error("not a JSON object");
    }
    for (const field of ["symbols", "builtins"]) {
      if (value[field] !== undefined && typeof value[field] !== "string") {
        throw new Error(`"${field}" is not a hash string`);
      }
    }
    return value as GridConfig;
  } catch (err) {
    throw new ConfigError(`Config "${home.config}" is corrupt: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Writes `config` atomically (0600). */
export async function writeConfig(home: GridHome, config: GridConfig): Promise<void> {
  await writeTextFileAtomic(home.config, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
}
