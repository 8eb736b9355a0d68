/**
 * See the mesh: a read-only web dashboard (`grid serve --dashboard ADDR`)
 * that follows the node live over server-sent events, and the node's metrics
 * in the Prometheus text format (`grid serve --metrics ADDR`). Both render
 * one {@link DashboardSnapshot}: the `grid status --json` report, each net's
 * membership history, the accepted promises and the engine's totals. The
 * page's files are embedded (no build step, no CDN); see docs/dashboard.md.
 *
 * @example
 * ```ts
 * import { meshSource, startDashboard } from "./mod.ts";
 * // In the agent, after the mesh service started:
 * // const source = meshSource(mesh, () => kernel.acceptedPromises());
 * // const page = await startDashboard("127.0.0.1:7341", {
 * //   kind: "dashboard", source, nodeId, signal,
 * // });
 * // console.log(page.openUrl);
 * ```
 *
 * @module
 */
export {
  type DashboardSnapshot,
  type DashboardSource,
  HISTORY_LIMIT,
  type HistoryEntry,
  meshSource,
  type NetHistory,
  netHistory,
  type PromiseInfo,
} from "./snapshot.ts";
export { escapeLabelValue, METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
export { type Asset, dashboardAssets, escapeHtml, renderPage, SECURITY_HEADERS } from "./html.ts";
export {
  type DashboardOptions,
  type DashboardServer,
  DEFAULT_DASHBOARD,
  isLoopback,
  newToken,
  parseServerAddress,
  PUSH_INTERVAL_MS,
  sameToken,
  type ServerKind,
  startDashboard,
  VIEWS_FILE,
} from "./server.ts";
