/**
 * The grid home: `$GRID_HOME` or `~/.grid`. It holds `config` (the symbol
 * table's hash and node settings), `cache/` (the CAS and cached answers),
 * `peers` (peer URLs), and whatever modules keep under `state/`. Created 0700.
 *
 * @module
 */
import { writeTextFileAtomic } from "./fs_storage.ts";
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

/** Resolves the home from `GRID_HOME`, else `$HOME/.grid`. */
export function resolveHome(env: { get(name: string): string | undefined } = Deno.env): GridHome {
  const explicit = env.get("GRID_HOME");
  const home = env.get("HOME");
  const root = explicit && explicit.length > 0 ? explicit : home ? `${home}/.grid` : (() => {
    throw new ConfigError("Cannot find the grid home: set GRID_HOME or HOME");
  })();
  return homeAt(root);
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

/** Creates the home's directories (0700) and an empty peers file if missing. */
export async function ensureHome(home: GridHome): Promise<void> {
  try {
    for (const dir of [home.root, home.cache, home.state]) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    }
    try {
      await Deno.writeTextFile(home.peers, "", { createNew: true, mode: 0o600 });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
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

/** Reads `config`; a missing file is an empty config, a corrupt one an error. */
export async function readConfig(home: GridHome): Promise<GridConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(home.config);
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
