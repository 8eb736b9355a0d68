/**
 * The module interface: one entry point, `accept(parms)`, whose reply is a
 * promise message (slot 0 the accept or reject promise hash). Modules are
 * caches: one that can also keep answers found elsewhere implements `store`.
 *
 * @module
 */
import type { CID } from "./hash.ts";
import type { Parm, Parms } from "./codec.ts";

/** What the kernel passes along with a message. */
export interface CallContext {
  /** Who sent it: "local" for this node, or "peer:<node id>". */
  readonly origin: string;
  /** How many peer hops the message has taken so far. */
  readonly hops: number;
  /** Aborts long calls (e.g. `serve`) and in-flight peer requests. */
  readonly signal?: AbortSignal;
  /** Sends a further message through the same kernel (same governance, same routing). */
  readonly call: (parms: Parms, options?: CallOptions) => Promise<Parms>;
  /** The caller's terminal, present only for calls from a local command line. */
  readonly io?: Io;
}

/**
 * A terminal handed to a module for a call from a local command line: a
 * capability, not ambient authority (calls from peers never carry one).
 */
export interface Io {
  /** Writes program output (bytes or text) to the caller's standard output. */
  stdout(data: Uint8Array | string): Promise<void>;
  /** Writes one diagnostic line to the caller's standard error. */
  stderr(line: string): void;
}

/** Options for a kernel call. */
export interface CallOptions {
  /** Who sent it (default "local"). */
  origin?: string;
  /** Peer hops taken so far (default 0). */
  hops?: number;
  /** Aborts the call. */
  signal?: AbortSignal;
  /** Module ids (text) not to consult for this call, e.g. to stop a loop. */
  exclude?: ReadonlySet<string>;
  /** The caller's terminal, for calls from a local command line. */
  io?: Io;
}

/** Anything the kernel can route a message to. */
export interface Module {
  /** The module's hash: what slot 1 of a request names. */
  readonly id: CID;
  /** A human name, for logs and status. */
  readonly name: string;
  /** The promise this module makes to whoever calls it. */
  readonly promise: string;
  /**
   * "own": consulted only for messages whose slot 1 is this module's id.
   * "any": consulted for any module hash (caches and peer proxies).
   */
  readonly scope?: "own" | "any";
  /** Handles a message; the reply's slot 0 says accept or reject. */
  accept(parms: Parms, ctx: CallContext): Promise<Parms> | Parms;
  /** For caches: keep an answer another module gave to a cacheable message. */
  store?(parms: Parms, payload: Parm[]): Promise<void>;
}
