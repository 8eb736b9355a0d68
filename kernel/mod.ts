/**
 * The grid kernel: messages (parms in PromiseGrid's envelope), hashes,
 * caches as directory trees, the content-addressed store, the syscall tree
 * and the promise-filtered router. Nothing here knows about WireGuard.
 *
 * @example
 * ```ts
 * import { Cas, casModule, GET_PROMISE, getMessage, Kernel, MemoryStorage, PUT_PROMISE } from "./mod.ts";
 * const cas = new Cas(new MemoryStorage());
 * const kernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE], modules: [casModule(cas)] });
 * const cid = await cas.put(new TextEncoder().encode("hello"));
 * const reply = await kernel.call(getMessage(cid)); // [ACCEPT, bytes]
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./hash.ts";
export * from "./codec.ts";
export * from "./cache_key.ts";
export * from "./storage.ts";
export * from "./fs_storage.ts";
export * from "./file_lock.ts";
export * from "./opfs_storage.ts";
export * from "./cas.ts";
export * from "./promises.ts";
export * from "./module.ts";
export * from "./syscall_tree.ts";
export * from "./kernel.ts";
export * from "./cas_module.ts";
export * from "./home.ts";
export * from "./symbols.ts";
export * from "./identity.ts";
export * from "./peer_network.ts";
export * from "./service.ts";
export * from "./executor.ts";
export * from "./peer_protocol.ts";
export * from "./ws_link.ts";
export * from "./peer_hub.ts";
export * from "./peer_proxy.ts";
export * from "./peer_admin.ts";
export * from "./control_socket.ts";
