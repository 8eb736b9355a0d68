/**
 * What a name runs, found without loading the kernel. `openNode` (node.ts)
 * uses the symbol table that `config` names as it is when `config.builtins`
 * is the hash of this binary's builtin table, and otherwise writes a new one.
 * This makes the same check with the kernel's base only, and without
 * importing the builtin commands: the stored table's builtin entries must
 * name exactly this binary's builtin files, each with its file's hash as its
 * module (a command's name and promise are written out in its file, so the
 * same bytes make the same entry), and hash to `config.builtins`. Then the
 * entry for the name is the one `openNode` would give. When anything is not
 * exactly so (no config yet, builtins changed, table missing, corrupt or
 * outside the CBOR subset, name unknown) it finds nothing, and the caller
 * opens the node, which writes, repairs or says what is wrong as before.
 *
 * @module
 */
import {
  ConfigError,
  type GridHome,
  readConfig,
  readStoredSymbols,
  sha256Cid,
  type StoredSymbol,
  symbolTableHash,
} from "../kernel/base/mod.ts";
import type { Builtins, Command } from "../builtins/mod.ts";

/** A name's entry in the current symbol table, and the builtin command it names (if any). */
export interface FoundSymbol {
  /** The entry, as the table stores it. */
  readonly entry: StoredSymbol;
  /** The builtin command whose file hashes to the entry's module (builtin entries only). */
  readonly command?: Command;
}

/**
 * The entry `name` has in the symbol table `home`'s config names, when that
 * table is the one `openNode` would use as it is; undefined otherwise.
 */
export async function findSymbol(
  home: GridHome,
  name: string,
  builtins: Builtins,
): Promise<FoundSymbol | undefined> {
  let symbols: unknown;
  let builtinHash: unknown;
  try {
    ({ symbols, builtins: builtinHash } = await readConfig(home));
  } catch (err) {
    if (err instanceof ConfigError) return undefined; // openNode reads it again and says why
    throw err;
  }
  if (typeof symbols !== "string" || typeof builtinHash !== "string") return undefined;
  const [table, files] = await Promise.all([
    readStoredSymbols(home, symbols),
    builtins.files(),
  ]);
  if (!table) return undefined;
  const stored = new Map([...table].filter(([, e]) => e.kind === "builtin"));
  if (stored.size !== files.length) return undefined;
  const modules = await Promise.all(files.map((f) => sha256Cid(f.bytes)));
  for (const [i, file] of files.entries()) {
    if (!stored.get(file.name)?.module.equals(modules[i])) return undefined;
  }
  // A table of builtins alone was just read under config.builtins itself: no need to hash it again.
  const builtinsAlone = stored.size === table.size && symbols === builtinHash;
  if (!builtinsAlone && await symbolTableHash(stored) !== builtinHash) return undefined;
  const entry = table.get(name);
  if (!entry) return undefined;
  if (entry.kind !== "builtin") return { entry };
  const file = files[modules.findIndex((m) => m.equals(entry.module))];
  return { entry, command: await file.command() };
}
