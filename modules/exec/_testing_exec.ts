/**
 * Test helpers for the executors: a real kernel over an in-memory store, and
 * a request builder whose host call is grant-checked exactly as in a node.
 *
 * @module
 */
import {
  Cas,
  casModule,
  type ExecLimits,
  type ExecRequest,
  GET_PROMISE,
  type Grant,
  hashBytes,
  hashText,
  hostCall,
  Kernel,
  MemoryStorage,
  type ModuleKind,
  type Parms,
  PUT_PROMISE,
} from "../../kernel/mod.ts";

/** A kernel with the store module, and the messages its host calls refused. */
export interface TestHost {
  /** The kernel a module under test calls. */
  kernel: Kernel;
  /** Its in-memory store. */
  cas: Cas;
  /** Host calls the test refused. */
  denied: Parms[];
}

/** A fresh kernel accepting get and put, over an in-memory CAS. */
export function testHost(): TestHost {
  const cas = new Cas(new MemoryStorage());
  const kernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE], modules: [casModule(cas)] });
  return { kernel, cas, denied: [] };
}

/** Options for {@link testRequest}. */
export interface TestRequestOptions {
  /** Module kind (default "js"). */
  kind?: ModuleKind;
  /** Arguments passed to the module. */
  args?: string[];
  /** What the module may touch. */
  grant?: Grant;
  /** Time, memory and output limits. */
  limits?: ExecLimits;
  /** The name the module runs under. */
  name?: string;
}

/** A request to run `bytes` against `host`'s kernel, with the grant enforced. */
export function testRequest(
  host: TestHost,
  bytes: Uint8Array,
  options: TestRequestOptions = {},
): ExecRequest {
  const module = hashBytes(bytes);
  const promiseText = "test: I run this module";
  const grant = options.grant ?? [];
  return {
    module,
    bytes,
    name: options.name ?? "test-module",
    entry: {
      module,
      promise: hashText(promiseText),
      promiseText,
      kind: options.kind ?? "js",
      grant: grant.map((rule) => [...rule]),
    },
    args: options.args ?? [],
    limits: options.limits,
    host: (request) =>
      hostCall(request, {
        grant,
        call: (parms) => host.kernel.call(parms, { origin: `module:test` }),
        onDenied: (parms) => host.denied.push(parms),
      }),
  };
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Text of UTF-8 `bytes`. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
