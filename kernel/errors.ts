/**
 * The kernel's closed set of error types. Each has a stable `code` so the CLI
 * can map it to an exit code and the wire can map it to a reject reason in
 * one place ({@link exitCodeOf}, {@link rejectCodeOf}).
 *
 * @module
 */

/** Stable error codes, shared by the CLI, the wire and the logs. */
export type GridErrorCode =
  | "codec"
  | "cache-key"
  | "cas"
  | "hash"
  | "route"
  | "not-accepted"
  | "module"
  | "peer"
  | "usage"
  | "not-found"
  | "config"
  | "wireguard"
  | "membership"
  | "denied";

/** Base class: every error grid raises on purpose is one of these. */
export class GridError extends Error {
  /** Stable machine-readable code. */
  readonly code: GridErrorCode;
  /** An error with a stable `code`; pass `{ cause }` when wrapping another error. */
  constructor(code: GridErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GridError";
    this.code = code;
  }
}

/** Malformed, oversize or too-deep CBOR, or a message that is not a grid envelope. */
export class CodecError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("codec", message, options);
    this.name = "CodecError";
  }
}

/** A cache key component that cannot be stored safely. */
export class CacheKeyError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("cache-key", message, options);
    this.name = "CacheKeyError";
  }
}

/** Content that does not match its hash, or a store that cannot be written. */
export class CasError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("cas", message, options);
    this.name = "CasError";
  }
}

/** A hash in text or binary form that cannot be parsed. */
export class HashError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("hash", message, options);
    this.name = "HashError";
  }
}

/** Something that was looked up and is not there (a name, a hash, a net). */
export class NotFoundError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("not-found", message, options);
    this.name = "NotFoundError";
  }
}

/** Bad command-line use. */
export class UsageError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/** A module or peer refused a message; `reason` is its reject payload. */
export class RejectedError extends GridError {
  /** A refusal carrying the reject's code from the wire. */
  constructor(code: GridErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "RejectedError";
  }
}

const EXIT_CODES: Record<GridErrorCode, number> = {
  usage: 2,
  "not-found": 3,
  "not-accepted": 4,
  denied: 4,
  codec: 5,
  "cache-key": 5,
  hash: 5,
  cas: 6,
  route: 7,
  module: 7,
  peer: 8,
  config: 9,
  wireguard: 10,
  membership: 11,
};

/** Maps any thrown value to a process exit code (1 for unexpected errors). */
export function exitCodeOf(err: unknown): number {
  // A code from the wire may be outside the closed set (e.g. "internal"): still a failure.
  return err instanceof GridError ? exitCodeForCode(err.code) : 1;
}

/** Maps a reject code from the wire to a process exit code (1 for unknown codes). */
export function exitCodeForCode(code: string): number {
  return Object.hasOwn(EXIT_CODES, code) ? EXIT_CODES[code as GridErrorCode] : 1;
}

/** Maps any thrown value to the code carried in a reject message on the wire. */
export function rejectCodeOf(err: unknown): GridErrorCode | "internal" {
  return err instanceof GridError ? err.code : "internal";
}

/** One line, safe for stderr or a reject payload: no stack, no newlines. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, " ").trim().slice(0, 500);
}
