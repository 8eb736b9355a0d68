import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { isLoopback, sameToken, startDashboard } from "./server.ts";
import type { DashboardSource } from "./snapshot.ts";
import { testSnapshot } from "./_testing_snapshot.ts";

function fixedSource(): DashboardSource & { calls: number } {
  const source = {
    calls: 0,
    snapshot() {
      source.calls++;
      const snap = testSnapshot();
      snap.counters.reconciles = source.calls; // a change each time: each tick is pushed
      return Promise.resolve(snap);
    },
  };
  return source;
}

/** Reads `count` `state` events off an event stream. */
async function readEvents(res: Response, count: number): Promise<string[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const events: string[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^event: state\ndata: (.*)$/s.exec(block);
      if (data) events.push(data[1]);
    }
  }
  await reader.cancel();
  return events;
}

/** The status of `GET /` sent with this Host header (fetch will not send one of its own). */
async function rawStatus(base: string, host: string): Promise<number> {
  const url = new URL(base);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  await conn.write(
    new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
  );
  const text = await new Response(conn.readable).text();
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
}

Deno.test("isLoopback knows the loopback names and addresses", async (t) => {
  const rows: [string, boolean][] = [
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["[::1]", true],
    ["localhost", true],
    ["::ffff:127.0.0.1", true],
    ["0.0.0.0", false],
    ["192.168.77.1", false],
    ["127.0.0.1.evil.com", false],
    ["::", false],
  ];
  for (const [host, want] of rows) await t.step(host, () => assertEquals(isLoopback(host), want));
});

Deno.test("sameToken compares whole tokens", async () => {
  assert(await sameToken("abc", "abc"));
  assert(!(await sameToken("abd", "abc")));
  assert(!(await sameToken("ab", "abc")));
  assert(!(await sameToken("", "abc")));
});

Deno.test("a loopback dashboard serves the page, the state and live events, read-only", async () => {
  const stop = new AbortController();
  const source = fixedSource();
  const server = await startDashboard("127.0.0.1:0", {
    kind: "dashboard",
    source,
    nodeId: "bahwqceraself",
    signal: stop.signal,
    intervalMs: 50,
  });
  try {
    const page = await fetch(server.url);
    assertEquals(page.status, 200);
    assert(page.headers.get("content-security-policy")?.includes("default-src 'none'"));
    assert((await page.text()).includes("bahwqceraself"));
    const state = await (await fetch(`${server.url}api/state`)).json();
    assertEquals(state.report.nets[0].peers.length, 2);
    const events = (await readEvents(await fetch(`${server.url}events`), 3)).map((e) =>
      JSON.parse(e)
    );
    assertEquals(events.length, 3);
    assertEquals(events[2].report.node, "bahwqceraself");
    assertEquals(events[0].history[0].entries.length, 2, "a new page gets the history at once");
    assertEquals(events[2].history, undefined, "and then only when it changed");
    assertEquals(events[2].promises, undefined);
    const post = await fetch(server.url, { method: "POST", body: "x" });
    await post.body?.cancel();
    assertEquals(post.status, 405);
    assertEquals(
      await rawStatus(server.url, "evil.example:7341"),
      403,
      "a page served from another host name (DNS rebinding) is refused",
    );
    assertEquals(await rawStatus(server.url, "localhost:7341"), 200);
    const missing = await fetch(`${server.url}../etc/passwd`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("a dashboard on another address refuses requests without the token", async () => {
  const stop = new AbortController();
  const token = "t0k3n-secret";
  const server = await startDashboard("0.0.0.0:0", {
    kind: "dashboard",
    source: fixedSource(),
    nodeId: "n",
    token,
    signal: stop.signal,
  });
  const base = server.url.replace("0.0.0.0", "127.0.0.1");
  try {
    assert(server.openUrl.endsWith(`?token=${token}`));
    for (const path of ["", "app.js", "api/state", "events", `?token=wrong`]) {
      const res = await fetch(`${base}${path}`);
      await res.body?.cancel();
      assertEquals(res.status, 401, `/${path} without the token`);
    }
    const open = await fetch(`${base}?token=${token}`);
    await open.body?.cancel();
    assertEquals(open.status, 200);
    const cookie = open.headers.get("set-cookie")!.split(";")[0];
    assert(open.headers.get("set-cookie")!.includes("HttpOnly"));
    const js = await fetch(`${base}app.js`, { headers: { cookie } });
    await js.body?.cancel();
    assertEquals(js.status, 200, "the page's own files come with its cookie");
    const bearer = await fetch(`${base}api/state`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await bearer.body?.cancel();
    assertEquals(bearer.status, 200);
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("a non-loopback address without a token is refused at start", async () => {
  let error: unknown;
  try {
    await startDashboard("0.0.0.0:0", {
      kind: "metrics",
      source: fixedSource(),
      nodeId: "n",
      signal: AbortSignal.abort(),
    });
  } catch (err) {
    error = err;
  }
  assert(error instanceof Error && /needs an access token/.test(error.message));
});

Deno.test("the number of event streams is bounded", async () => {
  const stop = new AbortController();
  const server = await startDashboard("127.0.0.1:0", {
    kind: "dashboard",
    source: fixedSource(),
    nodeId: "n",
    maxStreams: 2,
    signal: stop.signal,
  });
  try {
    const open = [await fetch(`${server.url}events`), await fetch(`${server.url}events`)];
    const third = await fetch(`${server.url}events`);
    await third.body?.cancel();
    assertEquals(third.status, 503);
    for (const res of open) await res.body?.cancel();
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("the metrics server serves /metrics and nothing else", async () => {
  const stop = new AbortController();
  const server = await startDashboard("127.0.0.1:0", {
    kind: "metrics",
    source: fixedSource(),
    nodeId: "n",
    signal: stop.signal,
  });
  try {
    const res = await fetch(server.openUrl);
    assertEquals(res.status, 200);
    assert(res.headers.get("content-type")!.startsWith("text/plain; version=0.0.4"));
    assert((await res.text()).includes('grid_net_members{net="lab"} 3'));
    const page = await fetch(server.url);
    await page.body?.cancel();
    assertEquals(page.status, 404);
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("a stream whose reader stopped reading is dropped, not queued for", async () => {
  const stop = new AbortController();
  const big = "x".repeat(256 * 1024);
  const source = {
    snapshot() {
      const snap = testSnapshot();
      snap.report.nets[0].name = big.slice(0, 1) + String(Math.random()); // a change each tick
      return Promise.resolve({ ...snap, padding: big } as typeof snap);
    },
  };
  const server = await startDashboard("127.0.0.1:0", {
    kind: "dashboard",
    source,
    nodeId: "n",
    maxStreams: 1,
    intervalMs: 5,
    signal: stop.signal,
  });
  try {
    const stalled = await fetch(`${server.url}events`); // never read
    let freed = false;
    for (let i = 0; i < 200 && !freed; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const next = await fetch(`${server.url}events`);
      freed = next.status === 200;
      await next.body?.cancel();
    }
    assert(freed, "the stalled stream still holds the only slot");
    await stalled.body?.cancel();
  } finally {
    stop.abort();
    await server.finished;
  }
});
