/**
 * Runs WebAssembly modules inside a permission-less Worker (so a runaway
 * module can be terminated) with a host interface of four imports and
 * nothing else; see docs/modules.md, "WebAssembly modules":
 *
 * - `grid.call(ptr, len) -> i32`: sends the CBOR grid message at
 *   `memory[ptr..ptr+len]` to the kernel (checked against the grant) and
 *   returns the reply's length; the guest suspends while the kernel works
 *   (JS Promise Integration), so the call reads as synchronous.
 * - `grid.reply(ptr) -> i32`: copies the last reply to `memory[ptr..]`,
 *   returns its length.
 * - `grid.write(ptr, len)`: writes output.
 * - `grid.args(ptr) -> i32`: copies the arguments (a CBOR array of text) to
 *   `memory[ptr..]` when `ptr >= 0`; returns their length (call with -1 first).
 *
 * The module exports `memory` and `run() -> i32` (the exit code).
 *
 * @module
 */
import { encodeValue, type ExecRequest, type ExecResult, type Executor } from "../../kernel/mod.ts";
import { bootUrl, runWorker } from "./_worker_host.ts";

/** JavaScript source of the WebAssembly bootstrap; runs inside the worker. */
const WASM_BOOT_SOURCE = `
const post = globalThis.postMessage.bind(globalThis);
const pending = new Map();
let nextId = 1;
let started = false;
globalThis.addEventListener("message", (event) => {
  const m = event.data;
  if (m && m.t === "start" && !started) { started = true; start(m).catch((err) => post({ t: "fail", value: String(err && err.message || err) })); return; }
  if (m && m.t === "reply" && pending.has(m.id)) { const f = pending.get(m.id); pending.delete(m.id); f(m.value); }
});
function ask(value) {
  const id = nextId++;
  return new Promise((resolve) => { pending.set(id, resolve); post({ t: "callBytes", id, value }); });
}
async function start(m) {
  let memory;
  let last = new Uint8Array(0);
  const view = (ptr, len) => {
    const mem = new Uint8Array(memory.buffer);
    if (!Number.isInteger(ptr) || !Number.isInteger(len) || ptr < 0 || len < 0 || ptr + len > mem.length) {
      throw new RangeError("grid host call outside the module's memory");
    }
    return mem.subarray(ptr, ptr + len);
  };
  const grid = {
    call: new WebAssembly.Suspending(async (ptr, len) => {
      last = await ask(view(ptr, len).slice());
      return last.length;
    }),
    reply: (ptr) => { view(ptr, last.length).set(last); return last.length; },
    write: (ptr, len) => { post({ t: "write", value: view(ptr, len).slice() }); },
    args: (ptr) => { if (ptr >= 0) view(ptr, m.args.length).set(m.args); return m.args.length; },
  };
  const { instance } = await WebAssembly.instantiate(m.bytes, { grid });
  memory = instance.exports.memory;
  if (!(memory instanceof WebAssembly.Memory) || typeof instance.exports.run !== "function") {
    throw new Error("a grid WebAssembly module exports memory and run");
  }
  const code = await WebAssembly.promising(instance.exports.run)();
  post({ t: "exit", value: code });
}
`;

const BOOT_URL = bootUrl(WASM_BOOT_SOURCE);

/** Runs `wasm` modules with the grid host interface. */
export class WasmExecutor implements Executor {
  readonly kind = "wasm" as const;

  run(request: ExecRequest): Promise<ExecResult> {
    return runWorker(request, {
      boot: BOOT_URL,
      start: { bytes: request.bytes, args: encodeValue([...request.args]) },
    });
  }
}
