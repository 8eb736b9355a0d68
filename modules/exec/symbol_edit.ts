/**
 * Editing the symbol table: every change writes a new table into the CAS
 * (the old one stays there untouched, by its hash) and then points `config`
 * at it, atomically. Pure table operations are kept apart from the writes.
 *
 * @module
 */
import {
  type Cas,
  type CID,
  getSymbols,
  type GridConfig,
  type GridHome,
  hashToText,
  putSymbols,
  readConfig,
  type SymbolEntry,
  type SymbolTable,
  UsageError,
  writeConfig,
} from "../../kernel/mod.ts";

/** A copy of `table` with `name` set to `entry`; builtin names cannot be taken. */
export function withEntry(table: SymbolTable, name: string, entry: SymbolEntry): SymbolTable {
  if (table.get(name)?.kind === "builtin") {
    throw new UsageError(`Cannot publish "${name}": a builtin command has that name`);
  }
  const next = new Map(table);
  next.set(name, entry);
  return next;
}

/** What {@link adoptEntries} did. */
export interface Adoption {
  /** The merged table. */
  table: SymbolTable;
  /** Names taken from the other table. */
  adopted: string[];
  /** Names left out, with the reason. */
  skipped: { name: string; why: string }[];
}

/**
 * Takes the non-builtin entries of `other` (all, or only `names`) into
 * `local`. Builtins on either side are never replaced or copied: each node
 * keeps the builtins of its own binary.
 */
export function adoptEntries(
  local: SymbolTable,
  other: SymbolTable,
  names?: readonly string[],
): Adoption {
  const table = new Map(local);
  const adopted: string[] = [];
  const skipped: { name: string; why: string }[] = [];
  const wanted = names && names.length > 0 ? names : [...other.keys()].sort();
  for (const name of wanted) {
    const entry = other.get(name);
    if (!entry) skipped.push({ name, why: "not in that table" });
    else if (entry.kind === "builtin") skipped.push({ name, why: "a builtin there" });
    else if (local.get(name)?.kind === "builtin") skipped.push({ name, why: "a builtin here" });
    else {
      table.set(name, entry);
      adopted.push(name);
    }
  }
  return { table, adopted, skipped };
}

/** The table `config` names right now (read fresh: an agent may have changed it). */
export async function currentSymbols(
  home: GridHome,
  cas: Cas,
): Promise<{ table: SymbolTable; hash: string | undefined }> {
  const config = await readConfig(home);
  if (!config.symbols) return { table: new Map(), hash: undefined };
  return { table: await getSymbols(cas, config.symbols), hash: config.symbols };
}

/**
 * Stores `table` in the CAS and points `config` at it (atomic write; other
 * config fields are kept as they are on disk now). Returns the table's hash.
 */
export async function commitSymbols(home: GridHome, cas: Cas, table: SymbolTable): Promise<CID> {
  const cid = await putSymbols(cas, table);
  const config: GridConfig = await readConfig(home);
  config.symbols = hashToText(cid);
  await writeConfig(home, config);
  return cid;
}
