/**
 * The symbol table as stored (see `kernel/symbols.ts`), read and hashed
 * without npm: the hash a table of given entries has, and the table a grid
 * home's store holds under a hash, verified against it. Enough for a command
 * line to know which module a name runs without loading the kernel.
 *
 * @module
 */
import type { GridHome } from "../home.ts";
import { decodeSubset, encodeSubset, type SubsetValue } from "./cbor_subset.ts";
import { CidBytes, cidText, DAG_CBOR, sha256Cid } from "./web_hash.ts";

/** One name in a stored table, CIDs in binary form (optional fields left out when absent). */
export interface StoredSymbol {
  /** Hash of the module's bytes. */
  readonly module: CidBytes;
  /** Hash of the promise text the module makes. */
  readonly promise: CidBytes;
  /** The promise text itself. */
  readonly promiseText: string;
  /** How the module is run: builtin, js, wasm or native. */
  readonly kind: string;
}

/** How a symbol's module may be run; `kernel/symbols.ts` reads tables by the same rules. */
export const SYMBOL_KINDS: readonly string[] = ["builtin", "js", "wasm", "native"];
/** What a symbol's name may be: lowercase letters, digits, `.`, `_`, `-`, at most 64. */
export const SYMBOL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Most accepted promises, and most grant prefixes, of one symbol. */
export const MAX_SYMBOL_LIST = 64;
/** Longest grant prefix of one symbol. */
export const MAX_GRANT_PREFIX = 8;
const KINDS = SYMBOL_KINDS;
const NAME = SYMBOL_NAME;
const HASH_TEXT = /^b[a-z2-7]{1,199}$/;

/**
 * The text hash of the table that holds exactly `entries`, as `putSymbols`
 * in `kernel/symbols.ts` would store it (entries without accepts or grant,
 * as builtins are).
 */
export async function symbolTableHash(entries: ReadonlyMap<string, StoredSymbol>): Promise<string> {
  const names: Record<string, SubsetValue> = {};
  for (const [name, e] of entries) {
    names[name] = {
      module: e.module,
      promise: e.promise,
      promiseText: e.promiseText,
      kind: e.kind,
    };
  }
  return cidText(await sha256Cid(encodeSubset({ grid: "symbols/v1", names }), DAG_CBOR));
}

function isCidList(value: unknown, each: (v: unknown) => boolean): boolean {
  return Array.isArray(value) && value.length <= MAX_SYMBOL_LIST && value.every(each);
}

/** The entry, or undefined when `decodeSymbols` would refuse it. */
function readEntry(name: string, raw: SubsetValue): StoredSymbol | undefined {
  if (!NAME.test(name) || raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return undefined;
  }
  if (raw instanceof Uint8Array || raw instanceof CidBytes) return undefined;
  const { module, promise, promiseText, kind, accepts, grant } = raw;
  if (!(module instanceof CidBytes) || !(promise instanceof CidBytes)) return undefined;
  if (typeof promiseText !== "string" || typeof kind !== "string" || !KINDS.includes(kind)) {
    return undefined;
  }
  if (accepts !== undefined && !isCidList(accepts, (a) => a instanceof CidBytes)) return undefined;
  const prefix = (p: unknown) =>
    Array.isArray(p) && p.length > 0 && p.length <= MAX_GRANT_PREFIX && p[0] instanceof CidBytes;
  if (grant !== undefined && !isCidList(grant, prefix)) return undefined;
  return { module, promise, promiseText, kind };
}

/**
 * The table stored in `home`'s content store under `hash` (its text form),
 * or undefined when it is not there, does not hash to `hash`, or is not a
 * table the subset reads; the kernel's own `getSymbols` then says what is
 * wrong. The store keeps each blob at `cache/cas/HASH` (`Cas` over
 * `FsStorage`, as `agent/node.ts` opens it).
 */
export async function readStoredSymbols(
  home: GridHome,
  hash: string,
): Promise<Map<string, StoredSymbol> | undefined> {
  if (!HASH_TEXT.test(hash)) return undefined;
  let bytes: Uint8Array;
  try {
    // Synchronously: a small file, read at a command line's start, where the thread pool that
    // asynchronous reads go through costs more than the read.
    bytes = Deno.readFileSync(`${home.cache}/cas/${hash}`);
  } catch {
    return undefined; // missing or unreadable: the kernel's own read says which, and how
  }
  if (cidText(await sha256Cid(bytes, DAG_CBOR)) !== hash) return undefined;
  const value = decodeSubset(bytes);
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  if (value instanceof Uint8Array || value instanceof CidBytes) return undefined;
  const names = value.names;
  if (value.grid !== "symbols/v1" || names === null || typeof names !== "object") return undefined;
  if (Array.isArray(names) || names instanceof Uint8Array || names instanceof CidBytes) {
    return undefined;
  }
  const table = new Map<string, StoredSymbol>();
  for (const [name, raw] of Object.entries(names)) {
    const entry = readEntry(name, raw);
    if (!entry) return undefined;
    table.set(name, entry);
  }
  return table;
}
