import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { dashboardAssets, escapeHtml, renderPage, SECURITY_HEADERS } from "./html.ts";
import { EVIL_NAME } from "./_testing_snapshot.ts";

Deno.test("escapeHtml escapes the five characters that matter, in text and attributes", async (t) => {
  const rows: [string, string][] = [
    ["<script>", "&lt;script&gt;"],
    ['a"b', "a&quot;b"],
    ["it's", "it&#39;s"],
    ["&amp;", "&amp;amp;"],
    ["plain name-1.x", "plain name-1.x"],
  ];
  for (const [input, want] of rows) {
    await t.step(JSON.stringify(input), () => assertEquals(escapeHtml(input), want));
  }
});

Deno.test("renderPage escapes the value it writes into the HTML", () => {
  const html = renderPage(EVIL_NAME);
  assert(!html.includes("<img"), "no tag from the name");
  assert(html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;"));
  assert(!html.includes("%NODE%"));
});

Deno.test("the page loads no inline script or style and nothing from elsewhere", () => {
  const html = dashboardAssets().get("index.html")!.text;
  assert(!/<script(?![^>]*\bsrc="\/app\.js")/.test(html), "only /app.js as a script");
  assert(!/\bstyle=|<style/.test(html), "no inline style");
  assert(!/https?:\/\//.test(html), "no other origin");
  const js = dashboardAssets().get("app.js")!.text;
  for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]) {
    assert(!js.includes(sink), `app.js uses no ${sink}`);
  }
  assert(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(js), "app.js reaches no other origin");
});

Deno.test("the Content-Security-Policy allows this origin's files only", () => {
  const csp = SECURITY_HEADERS["content-security-policy"];
  assert(csp.startsWith("default-src 'none'"));
  assert(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"));
  assert(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"));
});
