/**
 * Runs native executables, only when the operator has allowed their hash
 * (`grid allow HASH`). The verified bytes are written to a 0700 file named
 * by hash under `$GRID_HOME/state/exec/` and run with an empty environment
 * (only a minimal PATH), no stdin, bounded time and output. A native module
 * has the OS authority of the grid user, which is why it needs the
 * operator's say-so; it gets no host call. The release binary allows running
 * only wg, ip and wireguard-go, so native modules need grid started with a
 * wider `--allow-run`; grid says so plainly instead of failing obscurely.
 *
 * @module
 */
import {
  ExecError,
  type ExecRequest,
  type ExecResult,
  type Executor,
  type GridHome,
  hashToText,
  OutputBuffer,
  resolveLimits,
  writeFileAtomic,
} from "../../kernel/mod.ts";
import { isAllowed } from "./allowed.ts";

/** The whole environment a native module gets. */
export const NATIVE_PATH = "/usr/local/bin:/usr/bin:/bin";
const MAX_STDERR = 64 * 1024;

/** Options for {@link NativeExecutor}. */
export interface NativeExecutorOptions {
  /** The node's home: the allow list and `state/exec/`. */
  home: GridHome;
}

/** Where the executable for a module hash is kept. */
export function nativePath(home: GridHome, hash: string): string {
  return `${home.state}/exec/${hash}`;
}

async function sameBytes(path: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const have = await Deno.readFile(path);
    return have.length === bytes.length && have.every((b, i) => b === bytes[i]);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function runDenied(name: string, path: string, cause?: unknown): ExecError {
  return new ExecError(
    "denied",
    `Native module "${name}" cannot start: this grid process may not run "${path}"; ` +
      `start grid with --allow-run=${path} (or a wider --allow-run) to run native modules`,
    { cause },
  );
}

/** Runs `native` modules that the operator allowed. */
export class NativeExecutor implements Executor {
  readonly kind = "native" as const;
  #home: GridHome;

  /** An executor for the node whose home is `options.home`. */
  constructor(options: NativeExecutorOptions) {
    this.#home = options.home;
  }

  async run(request: ExecRequest): Promise<ExecResult> {
    const hash = hashToText(request.module);
    if (!(await isAllowed(this.#home, request.module))) {
      throw new ExecError(
        "denied",
        `Native module "${request.name}" (${hash}) is not allowed on this node; ` +
          `the operator can allow it with: grid allow ${hash}`,
      );
    }
    const path = nativePath(this.#home, hash);
    if (!(await sameBytes(path, request.bytes))) {
      await writeFileAtomic(path, request.bytes, { mode: 0o700 });
    }
    if (Deno.permissions.querySync({ name: "run", command: path }).state !== "granted") {
      throw runDenied(request.name, path);
    }
    const limits = resolveLimits(request.limits);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), limits.timeoutMs);
    const stop = () => abort.abort();
    request.signal?.addEventListener("abort", stop, { once: true });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(path, {
        args: [...request.args],
        clearEnv: true,
        env: { PATH: NATIVE_PATH },
        cwd: `${this.#home.state}/exec`,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", stop);
      if (err instanceof Deno.errors.NotCapable) throw runDenied(request.name, path, err);
      throw new ExecError("module", `Native module "${request.name}" cannot start: ${err}`, {
        cause: err,
      });
    }
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch (err) {
        if (!(err instanceof TypeError)) throw err; // TypeError: already exited
      }
    };
    abort.signal.addEventListener("abort", kill, { once: true });
    let overflow = false;
    const out = new OutputBuffer(limits.maxOutputBytes);
    const outReader = child.stdout.getReader();
    const errReader = child.stderr.getReader();
    const readOut = (async () => {
      for (;;) {
        const { done, value } = await outReader.read();
        if (done) return;
        if (!overflow && !out.add(value)) {
          overflow = true;
          kill();
        }
      }
    })();
    const readErr = (async () => {
      let text = "";
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await errReader.read();
        if (done) return text.slice(0, MAX_STDERR);
        if (text.length < MAX_STDERR) text += decoder.decode(value, { stream: true });
      }
    })();
    // A grandchild (e.g. `sleep` under a shell) may hold the pipes open after
    // the module exits: read what is there, then stop waiting.
    const drained = async (): Promise<[Deno.CommandStatus, string]> => {
      const status = await child.status;
      const grace = setTimeout(() => {
        outReader.cancel().catch(() => {}); // already closed is fine
        errReader.cancel().catch(() => {}); // already closed is fine
      }, 200);
      try {
        await readOut.catch(() => {}); // a cancelled read ends the loop
        return [status, await readErr.catch(() => "")]; // cancelled: no more stderr to report
      } finally {
        clearTimeout(grace);
      }
    };
    try {
      const [status, stderr] = await drained();
      if (overflow) {
        throw new ExecError(
          "module",
          `Module "${request.name}" wrote over its ${limits.maxOutputBytes}-byte output limit and was stopped`,
        );
      }
      if (abort.signal.aborted) {
        throw new ExecError(
          "module",
          request.signal?.aborted
            ? `Module "${request.name}" was stopped`
            : `Module "${request.name}" ran over its ${limits.timeoutMs} ms time limit and was stopped`,
        );
      }
      return { code: status.code, stdout: out.bytes(), stderr };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", stop);
    }
  }
}
