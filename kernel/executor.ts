/**
 * Executors: how the kernel runs a module fetched by hash. There is one
 * executor per module kind (JavaScript in a Worker, WebAssembly, native
 * executables); each gets bytes already verified against their hash, the
 * symbol entry, the arguments and one door to the world: {@link HostCall},
 * which takes a CBOR grid message and returns the kernel's CBOR reply. The
 * kernel checks every message against the module's {@link Grant} first, so a
 * module can do exactly what its grant says and nothing else.
 *
 * @module
 */
import { asHash, type CID, hashToText, verifyBytes } from "./hash.ts";
import { decodeMessage, encodeMessage, encodeValue, type Parm, type Parms } from "./codec.ts";
import { GridError, oneLine, rejectCodeOf } from "./errors.ts";
import { reject } from "./promises.ts";
import type { ModuleKind, SymbolEntry } from "./symbols.ts";

/** Largest message a module may send or receive through the host call: 1 MiB. */
export const MAX_HOST_MESSAGE = 1024 * 1024;
/** Default wall-clock limit for one module run: 10 s. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Default cap on what a module may write: 4 MiB. */
export const MAX_OUTPUT = 4 * 1024 * 1024;
/** Default number of host calls a module may have in flight at once. */
export const MAX_PENDING_CALLS = 16;
/**
 * Default growth of the process's resident memory a run may cause: 512 MiB.
 * Workers have no heap limit of their own, and a worker that reaches V8's
 * limit takes the whole process down, so the host watches and stops it first.
 */
export const MAX_MEMORY_GROWTH = 512 * 1024 * 1024;

/** Why a module could not run, or was stopped. */
export class ExecError extends GridError {
  /** `code` is "module" (failed or stopped), "denied" (not allowed) or "hash" (bad bytes). */
  constructor(code: "module" | "denied" | "hash", message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ExecError";
  }
}

/**
 * A capability grant: a list of parms prefixes. A message may be sent when
 * its leading parms equal one prefix component by component, e.g.
 * `[GET_PROMISE, CAS_MODULE]` ("may get content by hash") or
 * `[STATUS_PROMISE, STATUS_MODULE, "foo"]` ("may read the status of net foo").
 */
export type Grant = readonly (readonly Parm[])[];

/** The one door a module has: CBOR grid message in, CBOR reply out. Never throws. */
export type HostCall = (request: Uint8Array) => Promise<Uint8Array>;

/** Bounds on one run. */
export interface ExecLimits {
  /** Wall-clock limit; the module is stopped when it is reached. */
  timeoutMs?: number;
  /** Most bytes of output kept; more stops the module. */
  maxOutputBytes?: number;
  /** Largest message in either direction of a host call. */
  maxMessageBytes?: number;
  /** Most host calls in flight at once. */
  maxPendingCalls?: number;
  /** Most growth of the process's resident memory while the module runs. */
  maxMemoryBytes?: number;
}

/** What an executor is asked to run. */
export interface ExecRequest {
  /** The module's hash (what its bytes were verified against). */
  readonly module: CID;
  /** The module's bytes, verified. */
  readonly bytes: Uint8Array;
  /** Its symbol entry (name, kind, promise, grant). */
  readonly entry: SymbolEntry;
  /** The name it was called by, for messages. */
  readonly name: string;
  /** Command-line arguments. */
  readonly args: readonly string[];
  /** The grant-checked door to the kernel. */
  readonly host: HostCall;
  /** Stops the run early. */
  readonly signal?: AbortSignal;
  /** Bounds; defaults apply for missing fields. */
  readonly limits?: ExecLimits;
}

/** What a run produced. */
export interface ExecResult {
  /** Exit code (0 for success). */
  code: number;
  /** Everything the module wrote, up to the output limit. */
  stdout: Uint8Array;
  /** Diagnostics the module wrote. */
  stderr: string;
}

/** Runs modules of one kind. */
export interface Executor {
  /** The kind this executor runs. */
  readonly kind: ModuleKind;
  /** Runs one module to completion (or until a limit stops it). */
  run(request: ExecRequest): Promise<ExecResult>;
}

/** The limits with defaults filled in. */
export function resolveLimits(limits: ExecLimits = {}): Required<ExecLimits> {
  return {
    timeoutMs: limits.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxOutputBytes: limits.maxOutputBytes ?? MAX_OUTPUT,
    maxMessageBytes: limits.maxMessageBytes ?? MAX_HOST_MESSAGE,
    maxPendingCalls: limits.maxPendingCalls ?? MAX_PENDING_CALLS,
    maxMemoryBytes: limits.maxMemoryBytes ?? MAX_MEMORY_GROWTH,
  };
}

function sameParm(a: Parm, b: Parm): boolean {
  const ca = asHash(a);
  const cb = asHash(b);
  if (ca || cb) return !!ca && !!cb && ca.equals(cb);
  if (typeof a !== "object" || a === null) return a === b;
  try {
    const ea = encodeValue(a);
    const eb = encodeValue(b);
    return ea.length === eb.length && ea.every((x, i) => x === eb[i]);
  } catch {
    return false; // something that cannot be encoded matches nothing
  }
}

/** True when `parms` starts with one of the grant's prefixes. */
export function grantAllows(grant: Grant, parms: readonly Parm[]): boolean {
  return grant.some((prefix) =>
    prefix.length > 0 && prefix.length <= parms.length &&
    prefix.every((p, i) => sameParm(p, parms[i]))
  );
}

/** Options for {@link hostCall}. */
export interface HostCallOptions {
  /** What the module may send. */
  grant: Grant;
  /** Sends an allowed message through the kernel. */
  call: (parms: Parms) => Promise<Parms>;
  /** Largest request or reply (default {@link MAX_HOST_MESSAGE}). */
  maxMessageBytes?: number;
  /** Told about every refused message (for logs and tests). */
  onDenied?: (parms: Parms, reason: string) => void;
}

function encodeReply(reply: Parms, maxBytes: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encodeMessage(reply);
  } catch (err) {
    return encodeMessage(reject("codec", `Cannot encode the reply: ${oneLine(err)}`));
  }
  if (bytes.length > maxBytes) {
    return encodeMessage(
      reject("module", `Reply of ${bytes.length} bytes is over the ${maxBytes}-byte limit`),
    );
  }
  return bytes;
}

/**
 * The kernel side of a module's host call: decodes the request strictly,
 * refuses anything outside the grant with a reject promise message, forwards
 * the rest, and encodes the reply. Always resolves to a CBOR grid message.
 */
export async function hostCall(request: Uint8Array, options: HostCallOptions): Promise<Uint8Array> {
  const maxBytes = options.maxMessageBytes ?? MAX_HOST_MESSAGE;
  let parms: Parms;
  try {
    parms = decodeMessage(request, { maxBytes });
  } catch (err) {
    return encodeReply(reject(rejectCodeOf(err), oneLine(err)), maxBytes);
  }
  if (!grantAllows(options.grant, parms)) {
    const what = parms.slice(0, 2).map((p) => asHash(p) ? hashToText(p as CID) : String(p));
    const reason = `Not in this module's grant: a message for promise "${what[0]}"` +
      (what[1] ? ` and module "${what[1]}"` : "");
    options.onDenied?.(parms, reason);
    return encodeReply(reject("denied", reason), maxBytes);
  }
  try {
    return encodeReply(await options.call(parms), maxBytes);
  } catch (err) {
    return encodeReply(reject(rejectCodeOf(err), oneLine(err)), maxBytes);
  }
}

/**
 * Checks the bytes against the module hash before anything of them runs;
 * throws {@link ExecError} ("hash") on a mismatch, naming the module.
 */
export function assertModuleBytes(name: string, module: CID, bytes: Uint8Array): void {
  if (!verifyBytes(module, bytes)) {
    throw new ExecError(
      "hash",
      `Refusing module "${name}": its bytes do not match its hash "${hashToText(module)}"`,
    );
  }
}

/** Verifies the request's bytes, then runs it with the executor for its kind. */
export async function execute(
  executors: Iterable<Executor>,
  request: ExecRequest,
): Promise<ExecResult> {
  assertModuleBytes(request.name, request.module, request.bytes);
  for (const executor of executors) {
    if (executor.kind === request.entry.kind) return await executor.run(request);
  }
  throw new ExecError(
    "module",
    `No executor for "${request.name}": this node cannot run ${request.entry.kind} modules`,
  );
}

/** Collects output up to a byte limit; {@link add} returns false once it is exceeded. */
export class OutputBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #limit: number;
  /** A buffer that keeps at most `limit` bytes. */
  constructor(limit: number) {
    this.#limit = limit;
  }
  /** Bytes kept so far. */
  get size(): number {
    return this.#size;
  }
  /** Adds a chunk; false (and nothing kept) when it would pass the limit. */
  add(chunk: Uint8Array): boolean {
    if (this.#size + chunk.length > this.#limit) return false;
    this.#chunks.push(chunk.slice());
    this.#size += chunk.length;
    return true;
  }
  /** Everything kept, joined. */
  bytes(): Uint8Array {
    const all = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    return all;
  }
}
