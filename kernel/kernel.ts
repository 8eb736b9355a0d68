/**
 * The kernel: a promise-filtered router. A message's leading promise must be
 * in the node's accepted set (governance); then the syscall tree orders the
 * modules that may handle it, each is consulted until one accepts, and every
 * outcome is recorded back into the tree. To a caller, a cache hit, a
 * computation and an answer from a peer look the same: one `call(parms)`.
 *
 * @module
 */
import { asHash, CID, hashToText } from "./hash.ts";
import type { Parm, Parms } from "./codec.ts";
import { keyComponent } from "./cache_key.ts";
import { oneLine, rejectCodeOf } from "./errors.ts";
import type { CallContext, CallOptions, Module } from "./module.ts";
import { isAccept, isReject, type KnownPromise, reject, rejectReason } from "./promises.ts";
import { SyscallTree } from "./syscall_tree.ts";

/** How many leading parms take part in routing (deeper parms are arguments only). */
export const ROUTE_DEPTH = 3;
/** Accepts are recorded at this prefix length: (promise, module). */
export const ACCEPT_DEPTH = 2;
/** Deepest a message may be forwarded between peers. */
export const MAX_HOPS = 8;

/** What one call has learned so far, shared by the modules it consults. */
interface CallState {
  /** Caches consulted that missed: they get the answer written back. */
  missed: Module[];
  /** The last reject seen, returned when no module accepts. */
  lastReject: Parms | undefined;
}

/** Byte strings longer than this are data, not addresses: they end the routing key. */
export const MAX_ROUTED_BYTES = 96;

/**
 * The syscall-tree key of a request: promise and module text, then up to
 * {@link ROUTE_DEPTH} parms in cache-key form. A large byte string (a blob
 * being stored) ends the key rather than being hashed just to route it.
 */
function routeKey(parms: Parms, promiseText: string, moduleText: string): string[] {
  const key = [promiseText, moduleText];
  for (let i = 2; i < ROUTE_DEPTH && i < parms.length; i++) {
    const parm = parms[i];
    if (parm instanceof Uint8Array && parm.length > MAX_ROUTED_BYTES) break;
    key.push(keyComponent(parm));
  }
  return key;
}

/** Runs a promise's verify hook; a hook that throws counts as a failed check. */
function verified(promise: KnownPromise, parms: Parms, reply: Parms): boolean {
  try {
    return promise.verify!(parms, reply) === true;
  } catch {
    return false; // a verify hook that cannot judge the reply does not vouch for it
  }
}

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
  /** Registration index per module id: the consultation order. */
  #order = new Map<string, number>();
  #own = new Set<string>();
  #any: string[] = [];
  /** Eligible module ids per module hash (text), memoised; cleared by {@link register}. */
  #eligible = new Map<string, readonly string[]>();
  #log: NonNullable<KernelOptions["log"]>;

  /** A kernel with the given accepted promises and modules (registration order = consultation order). */
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

  /** Every promise the node accepts now, in the order it accepted them. */
  acceptedPromises(): KnownPromise[] {
    return [...this.#promises.values()];
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
    this.#order.set(id, this.#order.size);
    if ((module.scope ?? "own") === "any") this.#any.push(id);
    else this.#own.add(id);
    this.#eligible.clear();
  }

  /** Modules that may handle a request for `moduleText`, in registration order. */
  #eligibleFor(moduleText: string): readonly string[] {
    let ids = this.#eligible.get(moduleText);
    if (!ids) {
      const list = this.#own.has(moduleText) ? [moduleText, ...this.#any] : [...this.#any];
      ids = list.sort((a, b) => this.#order.get(a)! - this.#order.get(b)!);
      if (this.#eligible.size > 10_000) this.#eligible.clear(); // bound: module hashes are caller-chosen
      this.#eligible.set(moduleText, ids);
    }
    return ids;
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
   *
   * Order of consultation: the syscall tree's route (longest matching prefix
   * first, then untried modules in registration order, then demoted ones);
   * modules recorded as rejecting this key are consulted only as a last
   * resort, when no other module accepted, so a cache miss is never final.
   */
  async call(parms: Parms, options: CallOptions = {}): Promise<Parms> {
    try {
      const promiseCid = Array.isArray(parms) ? asHash(parms[0]) : null;
      if (!promiseCid) return reject("codec", "Slot 0 must be a promise hash");
      const promiseText = hashToText(promiseCid);
      const promise = this.#promises.get(promiseText);
      if (!promise) {
        this.#log("reject", { why: "promise not accepted", promise: promiseText });
        return reject("not-accepted", `This node does not accept promise "${promiseText}"`);
      }
      const moduleCid = asHash(parms[1]);
      if (!moduleCid) return reject("codec", "Slot 1 of a request must be a module hash");
      if ((options.hops ?? 0) > MAX_HOPS) return reject("route", `Hop limit ${MAX_HOPS} reached`);

      const moduleText = hashToText(moduleCid);
      let key: string[];
      try {
        key = routeKey(parms, promiseText, moduleText);
      } catch (err) {
        return reject(rejectCodeOf(err), oneLine(err));
      }
      let eligible = this.#eligibleFor(moduleText);
      const exclude = options.exclude;
      if (exclude && exclude.size > 0) eligible = eligible.filter((id) => !exclude.has(id));

      const origin = options.origin ?? "local";
      const hops = options.hops ?? 0;
      const ctx: CallContext = {
        origin,
        hops,
        signal: options.signal,
        io: options.io,
        // A nested call keeps the caller's origin unless it says otherwise, so
        // a module serving a peer cannot launder the request into a local one.
        call: (next, nextOptions) =>
          this.call(next, { origin, hops, signal: options.signal, ...nextOptions }),
      };
      const state: CallState = { missed: [], lastReject: undefined };
      // The route first; then, as a last resort, modules that rejected this key
      // before (a cache may have been filled since).
      const order = this.tree.route(key, eligible);
      let ids = order;
      let lastResort = false;
      for (let i = 0;; i++) {
        if (i === ids.length) {
          if (lastResort || order.length >= eligible.length) break;
          lastResort = true;
          // Those route() left out at the start; not ones consulted (and recorded) above.
          ids = eligible.filter((id) => !order.includes(id));
          i = -1;
          continue;
        }
        const id = ids[i];
        const module = this.#modules.get(id)!;
        let reply: Parms;
        try {
          reply = await module.accept(parms, ctx);
        } catch (err) {
          this.#recordBroken(key, id);
          this.#log("broken", { module: module.name, why: oneLine(err) });
          state.lastReject = reject(rejectCodeOf(err), oneLine(err));
          continue;
        }
        if (!this.#judge(module, id, promise, parms, key, reply, state)) continue;
        if (promise.cacheable && state.missed.length > 0) {
          await this.#writeBack(state.missed, parms, key, reply.slice(1) as Parm[]);
        }
        return reply;
      }
      return state.lastReject ??
        reject("route", `No module accepts this message for module "${moduleText}"`);
    } catch (err) {
      // Last line of defence: a bug in a hook (verify, log) is a reject, not a crash.
      return reject(rejectCodeOf(err), oneLine(err));
    }
  }

  /** Judges one module's reply and records it; true when it accepted and kept the promise. */
  #judge(
    module: Module,
    id: string,
    promise: KnownPromise,
    parms: Parms,
    key: string[],
    reply: Parms,
    state: CallState,
  ): boolean {
    if (isAccept(reply)) {
      if (promise.verify && !verified(promise, parms, reply)) {
        this.#recordBroken(key, id);
        this.#log("broken", { module: module.name, why: "reply failed verification" });
        return false;
      }
      // Once at (promise, module), its general route, and once at the full key.
      this.tree.record(key, id, "accept", { alsoAt: ACCEPT_DEPTH });
      return true;
    }
    if (isReject(reply)) {
      this.tree.record(key, id, "reject");
      if (module.store) state.missed.push(module);
      // "I do not handle this promise" (a proxy, say) must not hide a real refusal
      // from the module the message was addressed to.
      // Nor must a cache's plain miss hide why a module that looked further (a
      // peer proxy) found nothing, whichever of them the route asked first.
      const code = rejectReason(reply).code;
      const storeMiss = module.store !== undefined && code === "not-found";
      if (!state.lastReject || (code !== "not-accepted" && !storeMiss)) {
        state.lastReject = reply;
      }
      return false;
    }
    this.#recordBroken(key, id);
    this.#log("broken", { module: module.name, why: "reply is neither accept nor reject" });
    return false;
  }

  /** A broken promise counts against the module's general route and this exact key. */
  #recordBroken(key: readonly string[], id: string): void {
    this.tree.record(key, id, "broken", { alsoAt: ACCEPT_DEPTH });
  }

  /** Reports that an accepted answer later proved wrong (e.g. bytes that failed a hash check). */
  reportBroken(parms: Parms, module: CID | string): void {
    try {
      const key = routeKey(parms, hashToText(parms[0]), hashToText(asHash(parms[1])!));
      this.#recordBroken(key, typeof module === "string" ? module : hashToText(module));
    } catch (err) {
      this.#log("report-broken-failed", { why: oneLine(err) });
    }
  }

  /**
   * Writes a cacheable answer back into the caches that missed it, and records
   * that each now accepts this key, so the next call is answered there.
   */
  async #writeBack(caches: Module[], parms: Parms, key: string[], payload: Parm[]): Promise<void> {
    for (const cache of caches) {
      try {
        await cache.store!(parms, payload);
        this.tree.record(key, hashToText(cache.id), "accept");
      } catch (err) {
        this.#log("cache-store-failed", { module: cache.name, why: oneLine(err) });
      }
    }
  }
}
