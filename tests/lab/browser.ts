/**
 * Headless Chromium driven over the Chrome DevTools Protocol, for tests that
 * look at a page as a user would: launch it, open a URL, evaluate script in
 * the page, take screenshots. Needs Debian's `chromium` package
 * (scripts/setup.sh installs it).
 *
 * @module
 */

/** The browser's executable, from `GRID_CHROMIUM` or the PATH. */
export const CHROMIUM = Deno.env.get("GRID_CHROMIUM") ?? "chromium";

/** Why no browser can run here, or undefined when one can. */
export async function browserMissing(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(CHROMIUM, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return out.success ? undefined : `"${CHROMIUM} --version" failed`;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return `needs "${CHROMIUM}" (Debian package chromium: apt-get install -y chromium, as scripts/setup.sh does)`;
    }
    throw err;
  }
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(err: Error): void;
}

/** One page of a running headless Chromium. */
export class Browser {
  readonly #child: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #dir: string;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  private constructor(child: Deno.ChildProcess, ws: WebSocket, dir: string) {
    this.#child = child;
    this.#ws = ws;
    this.#dir = dir;
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      const waiting = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!waiting) return;
      this.#pending.delete(msg.id);
      if (msg.error) waiting.reject(new Error(`CDP: ${msg.error.message}`));
      else waiting.resolve(msg.result ?? {});
    };
  }

  /** Starts Chromium headless with an empty profile under `dir`, and opens its first page. */
  static async launch(dir: string, size = "1280,960"): Promise<Browser> {
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox", // tests run as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        `--window-size=${size}`,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${dir}/profile`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const browserUrl = await devtoolsUrl(child.stderr);
    const http = browserUrl.replace(/^ws:\/\/([^/]+)\/.*$/, "http://$1");
    let page: { type: string; webSocketDebuggerUrl: string } | undefined;
    for (let i = 0; i < 50 && !page; i++) {
      const list = await (await fetch(`${http}/json/list`)).json();
      page = list.find((t: { type: string }) => t.type === "page");
      if (!page) await new Promise((r) => setTimeout(r, 100));
    }
    if (!page) throw new Error("Chromium opened no page");
    const ws = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("Cannot connect to the page's DevTools socket"));
    });
    const browser = new Browser(child, ws, dir);
    await browser.send("Page.enable");
    await browser.send("Runtime.enable");
    return browser;
  }

  /** Sends one CDP command to the page and waits for its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /** Opens `url` in the page. */
  async navigate(url: string): Promise<void> {
    const result = await this.send("Page.navigate", { url });
    if (result.errorText) throw new Error(`Cannot open ${url}: ${result.errorText}`);
  }

  /** The value of `expression` evaluated in the page (awaited, returned by value). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (result.exceptionDetails) {
      throw new Error(`In the page: ${JSON.stringify(result.exceptionDetails).slice(0, 500)}`);
    }
    return (result.result as { value: T }).value;
  }

  /** Evaluates `expression` every 200 ms until it is truthy; its value, or undefined after `timeoutMs`. */
  async waitFor<T>(expression: string, timeoutMs: number): Promise<T | undefined> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  }

  /** Saves a PNG of the whole page at `path`. */
  async screenshot(path: string): Promise<void> {
    const result = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    await Deno.writeFile(path, Uint8Array.fromBase64(result.data as string));
  }

  /** Stops the browser. */
  async close(): Promise<void> {
    try {
      this.#ws.close();
    } catch {
      // already closed with the browser
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // it exited by itself
    }
    await this.#child.status;
    await Deno.remove(`${this.#dir}/profile`, { recursive: true }).catch(() => {/* gone */});
  }
}

/** Reads Chromium's stderr until it says where DevTools listens; keeps draining it after. */
async function devtoolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (m) {
      void (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {/* browser gone */});
      return m[1];
    }
  }
  throw new Error(`Chromium did not start: ${text.slice(-1000)}`);
}
