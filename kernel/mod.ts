/**
 * The grid kernel: messages (parms in PromiseGrid's envelope), hashes,
 * caches as directory trees, the content-addressed store, the syscall tree
 * and the promise-filtered router. Nothing here knows about WireGuard. The
 * peer stack (WebSocket links, the peer proxy) has a face of its own,
 * `kernel/peers/mod.ts`, so a command that never talks to peers never loads it.
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
export {
  CacheKeyError,
  CasError,
  CodecError,
  ConfigError,
  GridError,
  HashError,
  type KernelErrorCode,
  NotFoundError,
  oneLine,
  rejectCodeOf,
  RejectedError,
  UsageError,
} from "./errors.ts";
export {
  asHash,
  CID,
  DAG_CBOR,
  hashBytes,
  hashText,
  hashToText,
  isHash,
  parseHash,
  RAW,
  SHA2_256,
  verifyBytes,
} from "./hash.ts";
export {
  CborFloat,
  type DecodeLimits,
  decodeMessage,
  decodeValue,
  encodeMessage,
  encodeValue,
  MAX_MESSAGE_BYTES,
  type Parm,
  type Parms,
  Tagged,
} from "./codec.ts";
export {
  bool,
  bytes,
  list,
  nullable,
  oneOf,
  optional,
  readShape,
  record,
  type Shape,
  ShapeMismatch,
  type ShapeType,
  text,
  toParm,
  whole,
} from "./shape.ts";
export { keyComponent } from "./cache_key.ts";
export { MemoryStorage, type Storage, type WriteOptions } from "./storage.ts";
export { FsStorage } from "./fs_storage.ts";
export { writeFileAtomic, writeFilesAtomic, writeTextFileAtomic } from "./atomic_file.ts";
export { withFileLock } from "./file_lock.ts";
export { OpfsStorage } from "./opfs_storage.ts";
export { Cas, type CasOptions, MAX_BLOB } from "./cas.ts";
export {
  ACCEPT,
  accept,
  answer,
  definePromise,
  isAccept,
  isReject,
  type KnownPromise,
  type PromiseSpec,
  readAnswer,
  refusal,
  REJECT,
  reject,
  rejectReason,
} from "./promises.ts";
export type { CallContext, CallOptions, Io, Module } from "./module.ts";
export { ACCEPT_DEPTH, Kernel, type KernelOptions } from "./kernel.ts";
export {
  CAS_MODULE,
  casModule,
  GET_PROMISE,
  getMessage,
  PUT_PROMISE,
  putMessage,
} from "./cas_module.ts";
export {
  ensureHome,
  type GridConfig,
  type GridHome,
  homeAt,
  readConfig,
  resolveHome,
  SYSTEM_HOME,
  writeConfig,
} from "./home.ts";
export {
  decodeSymbols,
  encodeSymbols,
  getSymbols,
  isSymbolName,
  lookup,
  type ModuleKind,
  putSymbols,
  type SymbolEntry,
  type SymbolTable,
} from "./symbols.ts";
export {
  generateIdentity,
  type Identity,
  loadIdentity,
  nodeIdOf,
  verifySignature,
} from "./identity.ts";
export type {
  DatagramListener,
  PeerEvent,
  PeerInfo,
  PeerNetwork,
  RequestOptions,
} from "./peer_network.ts";
export {
  LOG_LEVELS,
  type Logger,
  type LogLevel,
  type RelayPolicy,
  type Service,
  type ServiceContext,
} from "./service.ts";
export {
  ExecError,
  type ExecLimits,
  type ExecRequest,
  type ExecResult,
  execute,
  type Executor,
  type Grant,
  hostCall,
  OutputBuffer,
  resolveLimits,
} from "./executor.ts";
export {
  agentAnswers,
  callAgent,
  ControlServer,
  type ControlServerOptions,
  controlSocketPath,
} from "./control_socket.ts";
