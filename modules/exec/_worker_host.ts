/**
 * The kernel side of a module worker: starts a Worker with permissions
 * "none" from a bootstrap data URL, answers its host calls through the
 * grant-checked {@link ExecRequest.host}, collects its output, and stops it
 * at the first limit it passes. Shared by the JS and WebAssembly executors.
 *
 * @module
 */
import {
  asHash,
  CodecError,
  decodeMessage,
  encodeMessage,
  ExecError,
  type ExecRequest,
  type ExecResult,
  hashToText,
  oneLine,
  OutputBuffer,
  type Parm,
  type Parms,
  parseHash,
  reject,
  resolveLimits,
} from "../../kernel/mod.ts";

/** Deepest nesting of a value a module passes to `grid.call`. */
const MAX_VALUE_DEPTH = 32;
/** Most items (array elements, map entries) in one such value. */
const MAX_VALUE_ITEMS = 65_536;
/** How often the memory watchdog looks. */
const MEMORY_WATCH_MS = 20;
/** Most diagnostic text kept from one run. */
const MAX_STDERR = 64 * 1024;

/** A hash as the worker sees it: `{ "/": "bafk..." }` (the DAG-JSON link form, in memory only). */
export interface HashLink {
  /** The hash as text. */
  "/": string;
}

/**
 * Turns a value from the worker into parms: `{ "/": text }` becomes a CID;
 * depth and size are bounded; anything else odd throws.
 */
export function fromWorkerValue(value: unknown): Parm {
  let items = 0;
  const walk = (v: unknown, depth: number): Parm => {
    if (depth > MAX_VALUE_DEPTH) {
      throw new CodecError(`Value nests deeper than ${MAX_VALUE_DEPTH} levels`);
    }
    if (++items > MAX_VALUE_ITEMS) {
      throw new CodecError(`Value has over ${MAX_VALUE_ITEMS} items`);
    }
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") return v;
    if (v instanceof Uint8Array) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      const keys = Object.keys(v as object);
      const link = (v as Record<string, unknown>)["/"];
      if (keys.length === 1 && typeof link === "string") return parseHash(link);
      const out: Record<string, Parm> = {};
      for (const k of keys) out[k] = walk((v as Record<string, unknown>)[k], depth + 1);
      return out;
    }
    throw new CodecError(`Cannot send a value of type "${typeof v}" to the kernel`);
  };
  return walk(value, 0);
}

/** Turns parms into values the worker can receive: CIDs become `{ "/": text }`. */
export function toWorkerValue(parm: Parm): unknown {
  const cid = asHash(parm);
  if (cid) return { "/": hashToText(cid) };
  if (Array.isArray(parm)) return parm.map(toWorkerValue);
  if (parm instanceof Uint8Array || parm === null || typeof parm !== "object") return parm;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parm)) out[k] = toWorkerValue(v);
  return out;
}

/** A bootstrap's source as a data URL a Worker can start from. */
export function bootUrl(source: string): string {
  return "data:application/javascript;base64," + new TextEncoder().encode(source).toBase64();
}

/** Options for {@link runWorker}. */
export interface RunWorkerOptions {
  /** Data URL of the bootstrap the worker starts with. */
  boot: string;
  /** The first message posted to the bootstrap (`t: "start"` is added). */
  start: Record<string, unknown>;
}

/**
 * Runs one module in a permission-less Worker until it exits, fails, or
 * passes a limit; the worker is always terminated before this settles.
 */
export function runWorker(request: ExecRequest, options: RunWorkerOptions): Promise<ExecResult> {
  const limits = resolveLimits(request.limits);
  const name = request.name;
  const out = new OutputBuffer(limits.maxOutputBytes);
  let stderr = "";
  let inFlight = 0;
  const worker = new Worker(options.boot, {
    type: "module",
    name: `grid-module-${name}`,
    deno: { permissions: "none" },
  } as WorkerOptions);

  return new Promise<ExecResult>((resolve, rejectRun) => {
    let done = false;
    const finish = (result: ExecResult | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(memoryWatch);
      request.signal?.removeEventListener("abort", onAbort);
      worker.terminate();
      if (result instanceof Error) rejectRun(result);
      else resolve(result);
    };
    const stop = (why: string): void => finish(new ExecError("module", `Module "${name}" ${why}`));
    const timer = setTimeout(
      () => stop(`ran over its ${limits.timeoutMs} ms time limit and was stopped`),
      limits.timeoutMs,
    );
    // RSS is the whole process's; a run's growth past the bound stops it
    // well before V8's heap limit would abort the process.
    const baseRss = Deno.memoryUsage().rss;
    const memoryWatch = setInterval(() => {
      if (Deno.memoryUsage().rss - baseRss > limits.maxMemoryBytes) {
        stop(`grew memory by over ${limits.maxMemoryBytes} bytes and was stopped`);
      }
    }, MEMORY_WATCH_MS);
    const onAbort = (): void => stop("was stopped");
    request.signal?.addEventListener("abort", onAbort, { once: true });
    const note = (line: string): void => {
      if (stderr.length < MAX_STDERR) stderr += line.slice(0, MAX_STDERR - stderr.length) + "\n";
    };

    const answer = async (id: number, raw: boolean, value: unknown): Promise<void> => {
      let requestBytes: Uint8Array | undefined;
      let early: Parms | undefined;
      if (raw) {
        if (value instanceof Uint8Array) requestBytes = value;
        else early = reject("codec", "grid.callBytes takes the bytes of a CBOR grid message");
      } else {
        try {
          const parms = fromWorkerValue(value);
          if (!Array.isArray(parms) || !asHash(parms[0])) {
            throw new CodecError("A message is an array whose first item is a promise hash");
          }
          requestBytes = encodeMessage(parms as Parms);
        } catch (err) {
          early = reject("codec", `Cannot send this message: ${oneLine(err)}`);
        }
      }
      let replyBytes: Uint8Array;
      if (early) replyBytes = encodeMessage(early);
      else if (requestBytes!.length > limits.maxMessageBytes) {
        replyBytes = encodeMessage(
          reject(
            "module",
            `Message of ${
              requestBytes!.length
            } bytes is over the ${limits.maxMessageBytes}-byte limit`,
          ),
        );
      } else replyBytes = await request.host(requestBytes!);
      inFlight--;
      if (done) return;
      const reply = raw ? replyBytes : toWorkerValue(decodeMessage(replyBytes));
      worker.postMessage({ t: "reply", id, value: reply });
    };

    worker.onmessage = (event: MessageEvent): void => {
      const m = event.data as { t?: unknown; id?: unknown; value?: unknown } | null;
      const t = m?.t;
      if (t === "call" || t === "callBytes") {
        if (typeof m!.id !== "number") return stop("sent a malformed call");
        if (++inFlight > limits.maxPendingCalls) {
          return stop(`had over ${limits.maxPendingCalls} calls in flight and was stopped`);
        }
        answer(m!.id, t === "callBytes", m!.value).catch((err) =>
          stop(`call failed: ${oneLine(err)}`)
        );
      } else if (t === "write") {
        const v = m!.value;
        const chunk = typeof v === "string" ? new TextEncoder().encode(v) : v;
        if (!(chunk instanceof Uint8Array)) {
          return stop("wrote something that is not text or bytes");
        }
        if (!out.add(chunk)) {
          stop(`wrote over its ${limits.maxOutputBytes}-byte output limit and was stopped`);
        }
      } else if (t === "error") {
        note(String(m!.value));
      } else if (t === "exit") {
        const code = m!.value;
        const exit = Number.isInteger(code) && (code as number) >= 0 && (code as number) < 256
          ? code as number
          : 1;
        finish({ code: exit, stdout: out.bytes(), stderr });
      } else if (t === "fail") {
        note(`${name}: ${String(m!.value)}`);
        finish({ code: 1, stdout: out.bytes(), stderr });
      } else {
        stop("sent a malformed message");
      }
    };
    worker.onerror = (event: ErrorEvent): void => {
      event.preventDefault();
      note(`${name}: ${event.message}`);
      finish({ code: 1, stdout: out.bytes(), stderr });
    };
    worker.onmessageerror = (): void => stop("sent a message that cannot be read");

    worker.postMessage({ ...options.start, t: "start" });
  });
}
