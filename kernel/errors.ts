/**
 * The kernel's closed set of error types. Each has a stable `code` so the
 * wire can map it to a reject reason in one place ({@link rejectCodeOf}).
 * Modules add error types of their own (a subclass of {@link GridError} with
 * a code the module owns, e.g. "membership"); the command line maps every
 * code to an exit code at its edge (agent/exit_codes.ts).
 *
 * @module
 */

/** The codes the kernel's own errors and rejects carry. */
export type KernelErrorCode =
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
  | "denied";

/** Base class: every error grid raises on purpose is one of these. */
export class GridError extends Error {
  /** Stable machine-readable code: a {@link KernelErrorCode} or one a module owns. */
  readonly code: string;
  /** An error with a stable `code`; pass `{ cause }` when wrapping another error. */
  constructor(code: string, message: string, options?: ErrorOptions) {
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

/** A setting that cannot be used: the grid home, an environment variable, a key file, the agent's socket. */
export class ConfigError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("config", message, options);
    this.name = "ConfigError";
  }
}

/** Bad command-line use (or a bad value typed on it, such as a peer URL). */
export class UsageError extends GridError {
  /** The message is one line, sentence case, values quoted. */
  constructor(message: string, options?: ErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/** A module or peer refused a message; `reason` is its reject payload. */
export class RejectedError extends GridError {
  /** A refusal carrying the reject's code from the wire (any code: the wire is open). */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "RejectedError";
  }
}

/** Maps any thrown value to the code carried in a reject message on the wire. */
export function rejectCodeOf(err: unknown): string {
  return err instanceof GridError ? err.code : "internal";
}

/** One line, safe for stderr or a reject payload: no stack, no newlines. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, " ").trim().slice(0, 500);
}
