/**
 * Kernel benchmarks (`deno task bench`, or `deno bench --allow-all bench/kernel_bench.ts`):
 *
 * - dispatch: a warm routed `kernel.call` (governance, cache key, syscall tree
 *   longest-prefix route, record, reply checks) against the simplest flat
 *   dispatch (one Map lookup on the joined parms text, then the handler) and
 *   a direct call of the handler as the floor.
 * - codec: our CBOR envelope against JSON for typical messages, encode plus
 *   decode, hashes and bytes included (JSON carries them as text and base64).
 *
 * Results and the machine are in docs/BENCHMARKS.md.
 *
 * @module
 */
import {
  accept,
  CID,
  decodeMessage,
  definePromise,
  encodeMessage,
  hashText,
  isAccept,
  Kernel,
  type Module,
  type Parm,
  type Parms,
  reject,
} from "../kernel/mod.ts";

// --- dispatch -------------------------------------------------------------

const ASK = definePromise({ text: "bench/ask: I ask for an echo and promise to use it kindly." });
const ECHO_ID = hashText("bench/module/echo");

/** The handler all three dispatchers end in. */
function echo(parms: Parms): Promise<Parms> {
  return Promise.resolve(accept(parms[2]));
}

const echoModule: Module = {
  id: ECHO_ID,
  name: "echo",
  promise: "bench: I echo slot 2",
  scope: "own",
  accept: echo,
};
// A second module and a cache with scope "any", so routing has choices to make.
const otherModule: Module = {
  id: hashText("bench/module/other"),
  name: "other",
  promise: "bench: I answer only to my own hash",
  scope: "own",
  accept: () => accept("other"),
};
const missCache: Module = {
  id: hashText("bench/module/miss-cache"),
  name: "miss-cache",
  promise: "bench: I never have anything for the ask promise",
  scope: "any",
  accept: () => reject("not-found", "not here"),
};

const kernel = new Kernel({ promises: [ASK], modules: [missCache, otherModule, echoModule] });
const REQUEST: Parms = [ASK.cid, ECHO_ID, "hello"];

/** The simplest flat dispatch: one Map lookup on the joined parms text, then the handler. */
const FLAT = new Map<string, (parms: Parms) => Promise<Parms>>([
  [REQUEST.map(String).join("/"), echo],
]);
async function flatCall(parms: Parms): Promise<Parms> {
  const handler = FLAT.get(parms.map(String).join("/"));
  return handler ? await handler(parms) : reject("route", "no handler");
}

// Warm up: the first call fills the syscall tree (miss-cache rejects, echo accepts).
for (let i = 0; i < 1000; i++) {
  if (!isAccept(await kernel.call(REQUEST))) throw new Error("bench setup: the routed call failed");
  if (!isAccept(await flatCall(REQUEST))) throw new Error("bench setup: the flat call failed");
}

Deno.bench({
  name: "routed kernel.call (warm syscall tree)",
  group: "dispatch",
  async fn() {
    await kernel.call(REQUEST);
  },
});

let fresh = 0;
Deno.bench({
  name: "routed kernel.call, a new argument every call",
  group: "dispatch",
  async fn() {
    // Routed on the (promise, module) history; each call adds per-argument
    // history until the tree reaches its bound (MAX_TREE_ENTRIES).
    await kernel.call([ASK.cid, ECHO_ID, `arg${fresh++}`]);
  },
});

Deno.bench({
  name: "flat Map dispatch on joined parms",
  group: "dispatch",
  baseline: true,
  async fn() {
    await flatCall(REQUEST);
  },
});

Deno.bench({
  name: "direct handler call (floor)",
  group: "dispatch",
  async fn() {
    await echo(REQUEST);
  },
});

// --- codec ----------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON's version of a message: hashes as text, bytes as base64, then UTF-8. */
function jsonEncode(parms: Parms): Uint8Array {
  return encoder.encode(
    JSON.stringify(
      parms.map((p) =>
        p instanceof CID
          ? { "/": p.toString() }
          : p instanceof Uint8Array
          ? { bytes: p.toBase64() }
          : p
      ),
    ),
  );
}

function jsonDecode(bytes: Uint8Array): Parms {
  return (JSON.parse(decoder.decode(bytes)) as Parm[]).map((p) => {
    if (p !== null && typeof p === "object" && !Array.isArray(p)) {
      const o = p as Record<string, string>;
      if (typeof o["/"] === "string") return CID.parse(o["/"]);
      if (typeof o.bytes === "string") return Uint8Array.fromBase64(o.bytes);
    }
    return p;
  }) as Parms;
}

const MESSAGES: [string, Parms][] = [
  ["small request", [ASK.cid, ECHO_ID, "join-wireguard-net", "office", {
    endpoint: "10.0.0.1:51820",
  }]],
  ["1 KiB payload", [ASK.cid, ECHO_ID, new Uint8Array(1024).map((_, i) => i * 7)]],
  ["64 KiB payload", [ASK.cid, ECHO_ID, new Uint8Array(65536).map((_, i) => i * 13)]],
];

for (const [label, parms] of MESSAGES) {
  // Check both round-trip before timing them.
  if (String(decodeMessage(encodeMessage(parms))[1]) !== String(parms[1])) throw new Error(label);
  if (String(jsonDecode(jsonEncode(parms))[1]) !== String(parms[1])) throw new Error(label);
  Deno.bench({
    name: `CBOR encode+decode, ${label} (${encodeMessage(parms).length} B)`,
    group: `codec: ${label}`,
    fn() {
      decodeMessage(encodeMessage(parms));
    },
  });
  Deno.bench({
    name: `JSON encode+decode, ${label} (${jsonEncode(parms).length} B)`,
    group: `codec: ${label}`,
    baseline: true,
    fn() {
      jsonDecode(jsonEncode(parms));
    },
  });
}
