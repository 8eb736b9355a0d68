/**
 * The source of the bootstrap every JS module worker starts with. It runs
 * inside the worker (permissions "none"), builds the `grid` API the module
 * sees, imports the module from a data URL and reports its exit code. It is
 * kept as text so the compiled binary needs no extra file; everything it
 * posts is checked again on the kernel side, so a module that bypasses it
 * gains nothing.
 *
 * @module
 */

/** JavaScript source of the worker bootstrap (see docs/modules.md, "JS modules"). */
export const WORKER_BOOT_SOURCE = `
const post = globalThis.postMessage.bind(globalThis);
const pending = new Map();
let nextId = 1;
let started = false;
const text = (v) => { try { return String(v && v.message !== undefined ? v.name + ": " + v.message : v); } catch { return "error"; /* String() itself threw: say only that it failed */ } };
globalThis.addEventListener("message", (event) => {
  const m = event.data;
  if (m && m.t === "start" && !started) { started = true; start(m); return; }
  if (m && m.t === "reply" && pending.has(m.id)) {
    const settle = pending.get(m.id);
    pending.delete(m.id);
    settle(m.value);
  }
});
function ask(kind, value) {
  const id = nextId++;
  return new Promise((resolve) => { pending.set(id, resolve); post({ t: kind, id, value }); });
}
async function start(m) {
  const grid = Object.freeze({
    args: Object.freeze([...m.args]),
    name: m.name,
    promises: Object.freeze(m.promises),
    modules: Object.freeze(m.modules),
    replies: Object.freeze(m.replies),
    hash: (t) => ({ "/": String(t) }),
    call: (parms) => ask("call", parms),
    callBytes: (bytes) => ask("callBytes", bytes),
    write: (data) => post({ t: "write", value: typeof data === "string" ? data : new Uint8Array(data) }),
    error: (line) => post({ t: "error", value: String(line) }),
  });
  Object.defineProperty(globalThis, "grid", { value: grid });
  try {
    const mod = await import(m.url);
    if (typeof mod.main !== "function") {
      post({ t: "fail", value: "the module exports no main(grid) function" });
      return;
    }
    let code = 0;
    const r = await mod.main(grid);
    if (typeof r === "number") code = r;
    post({ t: "exit", value: code });
  } catch (err) {
    post({ t: "fail", value: text(err) });
  }
}
`;
