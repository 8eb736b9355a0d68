/**
 * The kernel's base: what a command line needs before it knows whether it
 * needs the rest of the kernel. Its errors, the grid home and its config,
 * hashes by Web Crypto, the CBOR subset of the control channel's frames and
 * of the symbol table, and the client's end of the control channel. It loads
 * no npm package and no `node:` built-in (each of those costs about as much
 * as Deno's own start-up; docs/bench-cli.md), so a command that a running
 * agent answers, `--help` and `version` start about as fast as an empty
 * `deno run`. Everything here is also what `kernel/mod.ts` builds on.
 *
 * @example
 * ```ts
 * import { callAgentPlain, controlSocketPath, resolveHome, textCid } from "./mod.ts";
 * const home = resolveHome();
 * const promise = await textCid("some command's promise text");
 * const reply = await callAgentPlain(controlSocketPath(home.root), [promise]);
 * ```
 *
 * @module
 */
export {
  CodecError,
  ConfigError,
  GridError,
  NotFoundError,
  oneLine,
  UsageError,
} from "../errors.ts";
export {
  ensureHome,
  type GridConfig,
  type GridHome,
  homeAt,
  type HomeFacts,
  readConfig,
  resolveHome,
} from "../home.ts";
export { LOG_LEVELS, type LogLevel } from "../service.ts";
export { ACCEPT_TEXT, MAX_MESSAGE_BYTES, REJECT_TEXT } from "./wire.ts";
export { CidBytes, cidText, DAG_CBOR, RAW, sha256Cid, textCid } from "./web_hash.ts";
export {
  decodeEnvelope,
  decodeSubset,
  encodeEnvelope,
  encodeSubset,
  type SubsetValue,
} from "./cbor_subset.ts";
export { callAgentPlain, controlSocketPath } from "./control_client.ts";
export { readStoredSymbols, type StoredSymbol, symbolTableHash } from "./stored_symbols.ts";
