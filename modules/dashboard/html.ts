/**
 * The dashboard's page: one HTML document, a script and a style sheet, kept
 * as plain files in `assets/` (no build step, no CDN) and embedded in the
 * binary (`deno compile --include modules/dashboard/assets`). The page is
 * filled in by its script with DOM text nodes only; the one value the server
 * writes into the HTML itself goes through {@link escapeHtml}. Every
 * response carries {@link SECURITY_HEADERS}: a Content-Security-Policy that
 * allows this origin's own script, style and event stream and nothing else.
 *
 * @module
 */

/** The headers on every dashboard response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** One embedded asset: its bytes' text and content type. */
export interface Asset {
  /** The file's text. */
  readonly text: string;
  /** Its content type. */
  readonly type: string;
}

const ASSET_TYPES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

let assets: Map<string, Asset> | undefined;

/** The page's files by name (`index.html`, `app.js`, `app.css`), read once. */
export function dashboardAssets(): Map<string, Asset> {
  assets ??= new Map(
    Object.entries(ASSET_TYPES).map(([name, type]) => [
      name,
      { type, text: Deno.readTextFileSync(new URL(`./assets/${name}`, import.meta.url)) },
    ]),
  );
  return assets;
}

/** The page for node `nodeId`: index.html with the node's id (escaped) in place. */
export function renderPage(nodeId: string): string {
  return dashboardAssets().get("index.html")!.text.replaceAll("%NODE%", escapeHtml(nodeId));
}
