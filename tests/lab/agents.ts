/**
 * Test helper: run grid agents and commands as real subprocesses (`deno run`
 * with the release permission flags from the deno.json `grid` task), each
 * with its own GRID_HOME.
 *
 * @example
 * ```ts
 * const home = await makeHome();
 * const agent = await startAgent(home);          // grid serve --listen 127.0.0.1:0
 * const { code, stdout } = await runGrid(home, ["put", "/etc/hostname"]);
 * await agent.stop();                            // SIGTERM, waits for exit
 * await removeHome(home);
 * ```
 *
 * Agents started here use short redial backoffs (GRID_PEER_BACKOFF_MS) and a
 * short handshake timeout unless `env` says otherwise. Log lines (stderr) are
 * kept in `agent.log()` for assertions; the log level defaults to debug.
 *
 * @module
 */
import { waitFor } from "./netns.ts";

const ROOT = new URL("../../", import.meta.url);
const MAIN = new URL("main.ts", ROOT).pathname;

/** The permission flags of the deno.json `grid` task (the release binary's set). */
export async function releaseFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const task = config.tasks.grid;
  const command: string = typeof task === "string" ? task : task.command;
  return command.split(/\s+/).filter((word) => word.startsWith("--"));
}

/** Environment every helper-started process gets (short backoffs and timeouts). */
export const TEST_ENV: Record<string, string> = {
  GRID_PEER_BACKOFF_MS: "50,400",
  GRID_PEER_HANDSHAKE_MS: "3000",
  NO_COLOR: "1",
};

/** A fresh temporary grid home (0700). */
export async function makeHome(prefix = "grid-test-"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o700);
  return dir;
}

/** Removes a home made by {@link makeHome}; already gone is fine. */
export async function removeHome(home: string): Promise<void> {
  await Deno.remove(home, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

/** Options for {@link startAgent}. */
export interface StartAgentOptions {
  /** `--listen` (default `127.0.0.1:0`). */
  listen?: string;
  /** `--log-level` (default debug). */
  logLevel?: string;
  /** More `grid serve` arguments (e.g. `--advertise`). */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** How long to wait for the listening line (default 20 s). */
  timeoutMs?: number;
}

/** A running `grid serve` subprocess. */
export interface AgentProcess {
  /** Its GRID_HOME. */
  readonly home: string;
  /** `ws://127.0.0.1:PORT` it listens on. */
  readonly url: string;
  /** Its node id, from the listening line. */
  readonly nodeId: string;
  /** The port it bound. */
  readonly port: number;
  /** The agent process. */
  readonly child: Deno.ChildProcess;
  /** Everything it logged on stderr so far. */
  log(): string;
  /** Resolves when a log line matches `pattern` (rejects after `timeoutMs`, default 10 s). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL at once and wait for the exit. */
  kill(): Promise<void>;
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
}

/** Starts `grid serve` for `home` and waits until it prints its listening line. */
export async function startAgent(
  home: string,
  options: StartAgentOptions = {},
): Promise<AgentProcess> {
  const args = [
    "run",
    ...await releaseFlags(),
    MAIN,
    "serve",
    "--listen",
    options.listen ?? "127.0.0.1:0",
    "--log-level",
    options.logLevel ?? "debug",
    ...options.args ?? [],
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { ...TEST_ENV, ...options.env, GRID_HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const w of [...watchers]) w();
  };
  const drained = Promise.all([
    drain(child.stdout, (t) => {
      out += t;
      notify();
    }),
    drain(child.stderr, (t) => {
      err += t;
      notify();
    }),
  ]);
  const waitFor = (check: () => boolean, timeoutMs: number, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (check()) return resolve();
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`Timed out waiting for ${what}; stderr:\n${err.slice(-2000)}`));
      }, timeoutMs);
      const watch = () => {
        if (!check()) return;
        clearTimeout(timer);
        watchers.delete(watch);
        resolve();
      };
      watchers.add(watch);
    });
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    notify();
    return s;
  });
  const line = /grid: listening on (ws:\/\/[^\s]+:(\d+)) as (\S+)/;
  try {
    await waitFor(() => line.test(out) || exited, options.timeoutMs ?? 20_000, "listening line");
  } catch (e) {
    child.kill("SIGKILL");
    await status;
    throw e;
  }
  const m = line.exec(out);
  if (!m) {
    await status;
    await drained;
    throw new Error(`Agent exited before listening; stderr:\n${err}`);
  }
  const finish = async () => {
    await status;
    await drained.catch(() => {}); // streams end with the process; errors here mean it is gone
  };
  let stopping: Promise<void> | undefined;
  return {
    home,
    url: m[1],
    port: Number(m[2]),
    nodeId: m[3],
    child,
    log: () => err,
    waitForLog: (pattern, timeoutMs = 10_000) =>
      waitFor(() => pattern.test(err), timeoutMs, `log ${pattern}`),
    stop() {
      stopping ??= (async () => {
        if (!exited) {
          try {
            child.kill("SIGTERM");
          } catch (e) {
            if (!(e instanceof TypeError)) throw e; // already exited
          }
          const timer = setTimeout(() => {
            if (!exited) child.kill("SIGKILL");
          }, 5_000);
          await status;
          clearTimeout(timer);
        }
        await finish();
      })();
      return stopping;
    },
    kill() {
      stopping ??= (async () => {
        if (!exited) child.kill("SIGKILL");
        await finish();
      })();
      return stopping;
    },
  };
}

/** What {@link runGrid} returns. */
export interface GridResult {
  /** Exit code. */
  code: number;
  /** Standard output, raw. */
  stdout: Uint8Array;
  /** Standard output as text. */
  text: string;
  /** Standard error as text. */
  stderr: string;
}

/** Options for {@link runGrid}. */
export interface RunGridOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Bytes for standard input. */
  stdin?: Uint8Array;
  /** Working directory. */
  cwd?: string;
}

/** Runs one `grid ARGS...` command for `home` as a subprocess and collects its output. */
export async function runGrid(
  home: string,
  args: string[],
  options: RunGridOptions = {},
): Promise<GridResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...await releaseFlags(), MAIN, ...args],
    env: { ...TEST_ENV, ...options.env, GRID_HOME: home },
    cwd: options.cwd,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout,
    text: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

/** A TCP port free right now on 127.0.0.1 (for an agent that must come back on the same port). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Polls `check` every 50 ms until it resolves true (rejects after `timeoutMs`). */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  if (!(await waitFor(check, timeoutMs))) throw new Error(`Timed out waiting for ${what}`);
}
