/**
 * The symbol table: human names to module hashes. It is itself a CBOR record
 * in the CAS; `config` holds its hash, so `grid foo` is: read config, fetch
 * the table by hash, look up `foo`, fetch the module by hash, run it.
 *
 * @module
 */
import {
  MAX_GRANT_PREFIX,
  MAX_SYMBOL_LIST,
  SYMBOL_KINDS,
  SYMBOL_NAME,
} from "./base/stored_symbols.ts";
import { asHash, CID, DAG_CBOR, hashToText, parseHash } from "./hash.ts";
import { decodeValue, encodeValue, type Parm } from "./codec.ts";
import type { Cas } from "./cas.ts";
import { CodecError, NotFoundError } from "./errors.ts";

/** How a module is run. */
export type ModuleKind = "builtin" | "js" | "wasm" | "native";

/** One name in the table. */
export interface SymbolEntry {
  /** Hash of the module's bytes. */
  module: CID;
  /** Hash of the promise text the module makes. */
  promise: CID;
  /** The promise text itself, so `grid --show` works without fetching the module. */
  promiseText: string;
  /** How to run it. */
  kind: ModuleKind;
  /** Promise hashes the module accepts at its boundary (default: just `promise`). */
  accepts?: CID[];
  /** Parms prefixes the module may send to the kernel (see kernel/executor.ts Grant). */
  grant?: Parm[][];
}

/** Name to entry. */
export type SymbolTable = Map<string, SymbolEntry>;

const KINDS = SYMBOL_KINDS;
const NAME = SYMBOL_NAME;

/** True for a name that may appear in the table (lowercase, digits, `.`, `_`, `-`). */
export function isSymbolName(name: string): boolean {
  return NAME.test(name);
}

/** Encodes a table as deterministic CBOR (names sorted). */
export function encodeSymbols(table: SymbolTable): Uint8Array {
  const obj: Record<string, Parm> = {};
  for (const name of [...table.keys()].sort()) {
    const e = table.get(name)!;
    const record: Record<string, Parm> = {
      module: e.module,
      promise: e.promise,
      promiseText: e.promiseText,
      kind: e.kind,
    };
    // Optional fields only when set, so tables without them keep their hashes.
    if (e.accepts) record.accepts = e.accepts;
    if (e.grant) record.grant = e.grant;
    obj[name] = record;
  }
  return encodeValue({ grid: "symbols/v1", names: obj });
}

/** Decodes and validates a table; throws {@link CodecError} on any bad entry. */
export function decodeSymbols(bytes: Uint8Array): SymbolTable {
  const value = decodeValue(bytes) as Record<string, unknown>;
  if (
    value?.grid !== "symbols/v1" || typeof value.names !== "object" || value.names === null ||
    Array.isArray(value.names)
  ) {
    throw new CodecError("Not a grid symbol table");
  }
  const table: SymbolTable = new Map();
  for (const [name, raw] of Object.entries(value.names as Record<string, unknown>)) {
    const e = raw as Record<string, unknown>;
    const module = asHash(e?.module);
    const promise = asHash(e?.promise);
    if (
      !isSymbolName(name) || !module || !promise || typeof e.promiseText !== "string" ||
      !KINDS.includes(e.kind as string)
    ) {
      throw new CodecError(`Symbol table entry "${name.slice(0, 64)}" is malformed`);
    }
    const entry: SymbolEntry = {
      module,
      promise,
      promiseText: e.promiseText,
      kind: e.kind as ModuleKind,
    };
    if (e.accepts !== undefined) entry.accepts = decodeAccepts(name, e.accepts);
    if (e.grant !== undefined) entry.grant = decodeGrant(name, e.grant);
    table.set(name, entry);
  }
  return table;
}

function decodeAccepts(name: string, value: unknown): CID[] {
  if (!Array.isArray(value) || value.length > MAX_SYMBOL_LIST || !value.every((v) => asHash(v))) {
    throw new CodecError(`Symbol table entry "${name.slice(0, 64)}" has malformed accepts`);
  }
  return value as CID[];
}

function decodeGrant(name: string, value: unknown): Parm[][] {
  const ok = Array.isArray(value) && value.length <= MAX_SYMBOL_LIST &&
    value.every((p) =>
      Array.isArray(p) && p.length > 0 && p.length <= MAX_GRANT_PREFIX && asHash(p[0])
    );
  if (!ok) throw new CodecError(`Symbol table entry "${name.slice(0, 64)}" has a malformed grant`);
  return value as Parm[][];
}

/** Stores a table in the CAS and returns its hash. */
export async function putSymbols(cas: Cas, table: SymbolTable): Promise<CID> {
  return await cas.put(encodeSymbols(table), DAG_CBOR);
}

/** Fetches and decodes the table with hash `text` from the CAS. */
export async function getSymbols(cas: Cas, text: string): Promise<SymbolTable> {
  const cid = parseHash(text);
  const bytes = await cas.get(cid);
  if (!bytes) throw new NotFoundError(`Symbol table "${hashToText(cid)}" is not in the cache`);
  return decodeSymbols(bytes);
}

/** Looks a name up; throws {@link NotFoundError} naming it. */
export function lookup(table: SymbolTable, name: string): SymbolEntry {
  const entry = table.get(name);
  if (!entry) throw new NotFoundError(`Unknown command "${name}": not in the symbol table`);
  return entry;
}
