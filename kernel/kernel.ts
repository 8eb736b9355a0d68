/**
 * The kernel: a promise-filtered router. A message's leading promise must be
 * in the node's accepted set (governance); then the syscall tree orders the
 * modules that may handle it, each is consulted until one accepts, and every
 * outcome is recorded back into the tree. To a caller, a cache hit, a
 * computation and an answer from a peer look the same: one `call(parms)`.
 *
 * @module
 */
import { CID, hashToText } from "./hash.ts";
import type { Parm, Parms } from "./codec.ts";
import { keyComponent } from "./cache_key.ts";
import { oneLine, rejectCodeOf } from "./errors.ts";
import type { CallContext, CallOptions, Module } from "./module.ts";
import { isAccept, isReject, type KnownPromise, reject } from "./promises.ts";
import { SyscallTree } from "./syscall_tree.ts";

/** How many leading parms take part in routing (deeper parms are arguments only). */
export const ROUTE_DEPTH = 3;
/** Accepts are recorded at this prefix length: (promise, module). */
export const ACCEPT_DEPTH = 2;
/** Deepest a message may be forwarded between peers. */
export const MAX_HOPS = 8;

/** Options for {@link Kernel}. */
export interface KernelOptions {
  /** Promises this node accepts (its social contract). */
  promises?: Iterable<KnownPromise>;
  /** Modules, builtins first: the order is the consultation order for new prefixes. */
  modules?: Iterable<Module>;
  /** Receives one line per event worth logging. */
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** The router. One per node. */
export class Kernel {
  /** The acceptance history; also the routing table. */
  readonly tree: SyscallTree = new SyscallTree();
  #promises = new Map<string, KnownPromise>();
  #modules = new Map<string, Module>();
  #own = new Map<string, string[]>();
  #any: string[] = [];
  #log: NonNullable<KernelOptions["log"]>;

  constructor(options: KernelOptions = {}) {
    for (const p of options.promises ?? []) this.acceptPromise(p);
    for (const m of options.modules ?? []) this.register(m);
    this.#log = options.log ?? (() => {});
  }

  /** Adds a promise to the accepted set. */
  acceptPromise(promise: KnownPromise): void {
    this.#promises.set(hashToText(promise.cid), promise);
  }

  /** Removes a promise from the accepted set. */
  renouncePromise(cid: CID): void {
    this.#promises.delete(hashToText(cid));
  }

  /** The known promise with this hash, if the node accepts it. */
  promise(cid: CID): KnownPromise | undefined {
    return this.#promises.get(hashToText(cid));
  }

  /** Adds a module after those already registered. Re-registering an id replaces it. */
  register(module: Module): void {
    const id = hashToText(module.id);
    const known = this.#modules.has(id);
    this.#modules.set(id, module);
    if (known) return;
    if ((module.scope ?? "own") === "any") this.#any.push(id);
    else this.#own.set(id, [id]);
  }

  /** The registered module with this id. */
  module(id: CID | string): Module | undefined {
    return this.#modules.get(typeof id === "string" ? id : hashToText(id));
  }

  /** All registered modules, in consultation order. */
  modules(): Module[] {
    return [...this.#modules.values()];
  }

  /**
   * Routes a message and returns the reply. Never throws for a module's
   * failure or a refused message: those come back as reject replies.
   */
  async call(parms: Parms, options: CallOptions = {}): Promise<Parms> {
    const promiseCid = CID.asCID(parms[0]);
    if (!promiseCid) return reject("codec", "Slot 0 must be a promise hash");
    const promise = this.#promises.get(hashToText(promiseCid));
    if (!promise) {
      this.#log("reject", { why: "promise not accepted", promise: hashToText(promiseCid) });
      return reject(
        "not-accepted",
        `This node does not accept promise "${hashToText(promiseCid)}"`,
      );
    }
    const moduleCid = CID.asCID(parms[1]);
    if (!moduleCid) return reject("codec", "Slot 1 of a request must be a module hash");
    if ((options.hops ?? 0) > MAX_HOPS) return reject("route", `Hop limit ${MAX_HOPS} reached`);

    let key: string[];
    try {
      key = parms.slice(0, ROUTE_DEPTH).map((p) => keyComponent(p as Parm));
    } catch (err) {
      return reject(rejectCodeOf(err), oneLine(err));
    }
    const moduleText = key[1];
    const eligible = [...(this.#own.get(moduleText) ?? []), ...this.#any]
      .filter((id) => !options.exclude?.has(id));
    const order = this.tree.route(key, eligible);

    const ctx: CallContext = {
      origin: options.origin ?? "local",
      hops: options.hops ?? 0,
      signal: options.signal,
      io: options.io,
      call: (next, nextOptions) => this.call(next, { signal: options.signal, ...nextOptions }),
    };
    const missed: Module[] = [];
    let lastReject: Parms | undefined;
    for (const id of order) {
      const module = this.#modules.get(id)!;
      let reply: Parms;
      try {
        reply = await module.accept(parms, ctx);
      } catch (err) {
        this.tree.record(key, id, "broken");
        this.#log("broken", { module: module.name, why: oneLine(err) });
        lastReject = reject(rejectCodeOf(err), oneLine(err));
        continue;
      }
      if (isAccept(reply)) {
        if (promise.verify && !promise.verify(parms, reply)) {
          this.tree.record(key, id, "broken");
          this.#log("broken", { module: module.name, why: "reply failed verification" });
          continue;
        }
        this.tree.record(key.slice(0, ACCEPT_DEPTH), id, "accept");
        if (promise.cacheable) await this.#writeBack(missed, parms, reply.slice(1) as Parm[]);
        return reply;
      }
      if (isReject(reply)) {
        this.tree.record(key, id, "reject");
        if (module.store) missed.push(module);
        lastReject = reply;
        continue;
      }
      this.tree.record(key, id, "broken");
      this.#log("broken", { module: module.name, why: "reply is neither accept nor reject" });
    }
    return lastReject ??
      reject("route", `No module accepts this message for module "${moduleText}"`);
  }

  /** Reports that an accepted answer later proved wrong (e.g. bytes that failed a hash check). */
  reportBroken(parms: Parms, module: CID | string): void {
    const key = parms.slice(0, ROUTE_DEPTH).map((p) => keyComponent(p as Parm));
    this.tree.record(key, typeof module === "string" ? module : hashToText(module), "broken");
  }

  async #writeBack(caches: Module[], parms: Parms, payload: Parm[]): Promise<void> {
    for (const cache of caches) {
      try {
        await cache.store!(parms, payload);
      } catch (err) {
        this.#log("cache-store-failed", { module: cache.name, why: oneLine(err) });
      }
    }
  }
}
