/**
 * What a name runs, found without loading the kernel. `openNode` (node.ts)
 * reads the symbol table that `config` names as it is when that table was
 * made for this binary's builtins (`config.builtins` is the hash of their
 * table) and otherwise writes a new one. This does the same first step with
 * the kernel's base only: it hashes the builtin files and their promises
 * with Web Crypto, compares the hash of their table with `config.builtins`,
 * and reads the stored table's entry for the name. When anything is not
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
  textCid,
} from "../kernel/base/mod.ts";
import type { Builtins, BuiltinSource } from "../builtins/mod.ts";

/** A name's entry in the current symbol table, and the builtin it names (if it names one). */
export interface FoundSymbol {
  /** The entry, as the table stores it. */
  readonly entry: StoredSymbol;
  /** The builtin command whose file hashes to the entry's module (builtin entries only). */
  readonly builtin?: BuiltinSource;
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
  const sources = await builtins.sources();
  const current = new Map<string, StoredSymbol>();
  const byModule = new Map<string, BuiltinSource>();
  await Promise.all(sources.map(async (source) => {
    const [module, promise] = await Promise.all([
      sha256Cid(source.bytes),
      textCid(source.command.promise),
    ]);
    current.set(source.command.name, {
      module,
      promise,
      promiseText: source.command.promise,
      kind: "builtin",
    });
    byModule.set(module.bytes.toHex(), source);
  }));
  if (await symbolTableHash(current) !== builtinHash) return undefined;
  const entry = (await readStoredSymbols(home, symbols))?.get(name);
  if (!entry) return undefined;
  const builtin = entry.kind === "builtin" ? byModule.get(entry.module.bytes.toHex()) : undefined;
  return { entry, builtin };
}
