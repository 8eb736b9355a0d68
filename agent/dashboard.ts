/**
 * Starts the views of a running agent: the dashboard (`--dashboard ADDR`)
 * and the metrics (`--metrics ADDR`), both reading the agent's own mesh
 * engine and kernel. A non-loopback address gets an access token, made here
 * and printed with the URL; the URLs are also written, owner-only, to
 * `state/dashboard.json` for `grid dashboard`, and that file is removed
 * when the agent stops.
 *
 * @module
 */
import type { Io, Kernel, Logger } from "../kernel/mod.ts";
import type { Mesh } from "../modules/mesh/mod.ts";
import {
  isLoopback,
  meshSource,
  newToken,
  parseServerAddress,
  startDashboard,
  VIEWS_FILE,
} from "../modules/dashboard/mod.ts";

/** Options for {@link startViews}. */
export interface ViewsOptions {
  /** `HOST:PORT` of the dashboard, if any. */
  dashboard?: string;
  /** `HOST:PORT` of the metrics, if any. */
  metrics?: string;
  /** The running mesh engine. */
  mesh: Mesh;
  /** The node's kernel (its accepted promises). */
  kernel: Kernel;
  /** This node's id. */
  nodeId: string;
  /** The home's `state/` folder. */
  stateDir: string;
  /** Where the URL lines go. */
  io?: Io;
  /** Where events are logged. */
  log: Logger;
  /** Stops the servers. */
  signal: AbortSignal;
}

/** Starts the dashboard and metrics servers asked for; resolves once they listen. */
export async function startViews(options: ViewsOptions): Promise<void> {
  const asked = [["dashboard", options.dashboard], ["metrics", options.metrics]] as const;
  const remote = asked.some(([kind, addr]) =>
    addr !== undefined && !isLoopback(parseServerAddress(addr, `--${kind}`).hostname)
  );
  const token = remote ? newToken() : undefined;
  const source = meshSource(options.mesh, () => options.kernel.acceptedPromises());
  const urls: Record<string, string> = {};
  for (const [kind, addr] of asked) {
    if (addr === undefined) continue;
    const server = await startDashboard(addr, {
      kind,
      source,
      nodeId: options.nodeId,
      token,
      signal: options.signal,
    });
    urls[kind] = server.openUrl;
    const line = `grid: ${kind} at ${server.openUrl}\n`;
    if (options.io) await options.io.stdout(line);
    else await Deno.stdout.write(new TextEncoder().encode(line));
    options.log("info", `${kind}-up`, { url: server.url, token: token ? "required" : "none" });
  }
  const file = `${options.stateDir}/${VIEWS_FILE}`;
  await Deno.writeTextFile(file, JSON.stringify(urls) + "\n", { mode: 0o600 });
  await Deno.chmod(file, 0o600); // mode applies only when the file is new
  options.signal.addEventListener("abort", () => void clearViews(options.stateDir), { once: true });
}

/** Removes the view URLs file from `stateDir`; already gone counts as done. */
export async function clearViews(stateDir: string): Promise<void> {
  try {
    await Deno.remove(`${stateDir}/${VIEWS_FILE}`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
