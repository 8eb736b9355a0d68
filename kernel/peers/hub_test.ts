import { WebSocket } from "ws";
import { accept, isAccept, rejectReason } from "../promises.ts";
import { generateIdentity } from "../identity.ts";
import { hashText } from "../hash.ts";
import type { Parms } from "../codec.ts";
import { assert, assertEquals } from "../_testing_assert.ts";
import { backoffDelay, keepLink, PeerHub, type PeerHubOptions } from "./hub.ts";
import { WsLink } from "./_ws_link.ts";

const ECHO = hashText("echo");

async function hub(options: Partial<PeerHubOptions> = {}): Promise<PeerHub> {
  return new PeerHub({
    identity: await generateIdentity(),
    handler: (parms: Parms) => Promise.resolve(accept(...parms.slice(1))),
    backoff: { minMs: 20, maxMs: 200 },
    ...options,
  });
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("Timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("backoffDelay() grows, is capped and jittered", () => {
  const b = { minMs: 100, maxMs: 1000 };
  assertEquals(backoffDelay(0, b, 1), 100);
  assertEquals(backoffDelay(0, b, 0), 50);
  assertEquals(backoffDelay(3, b, 1), 800);
  assertEquals(backoffDelay(20, b, 1), 1000);
  assertEquals(backoffDelay(20, b, 0), 500);
});

Deno.test("keepLink() keeps the link opened by the smaller node id on both sides", () => {
  // Node "a" < "b". On a: existing listener (b dialled), incoming dialer (a dialled): keep a's.
  assertEquals(keepLink("a", "b", "listener", "dialer"), "incoming");
  // On b: existing dialer (b dialled), incoming listener (a dialled): keep a's.
  assertEquals(keepLink("b", "a", "dialer", "listener"), "incoming");
  assertEquals(keepLink("a", "b", "dialer", "listener"), "existing");
  assertEquals(keepLink("a", "b", "dialer", "dialer"), "existing");
});

Deno.test("two hubs authenticate, exchange requests both ways, and keep one link when both dial", async () => {
  const a = await hub({ advertise: "ws://a.example:7340/" });
  const b = await hub();
  try {
    const at = await b.listen("127.0.0.1", 0);
    a.dial(at.url);
    await until(() => a.connected().length === 1 && b.connected().length === 1);
    assertEquals(a.connected()[0].id, b.selfId);
    assertEquals(b.connected()[0].id, a.selfId);
    assertEquals(a.connected()[0].direction, "out");
    assertEquals(b.connected()[0].advertise, "ws://a.example:7340/");
    assertEquals(b.table()[0].url, "ws://a.example:7340/");
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => a.request(b.selfId, [ECHO, i])),
    );
    assert(replies.every((r, i) => isAccept(r) && r[1] === i));
    const back = await b.request(a.selfId, [ECHO, "x"]);
    assertEquals(back[1], "x");
    // b dials a too: still one link per peer on both sides.
    const atA = await a.listen("127.0.0.1", 0);
    b.dial(atA.url);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(a.connected().length, 1);
    assertEquals(b.connected().length, 1);
    assert(isAccept(await a.request(b.selfId, [ECHO, 1])));
    assert(a.table().some((r) => r.state === "up" && r.id === b.selfId));
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("a request to an unknown peer and a closed link resolve with rejects", async () => {
  const a = await hub();
  const b = await hub({
    handler: () => new Promise(() => {}), // never answers
  });
  try {
    const at = await b.listen("127.0.0.1", 0);
    assertEquals(rejectReason(await a.request("nobody", [ECHO])).code, "peer");
    a.dial(at.url);
    await until(() => a.connected().length === 1);
    // A short timeout after a long one still fires on time (one timer per link).
    const hanging = a.request(b.selfId, [ECHO], { timeoutMs: 20_000 });
    const started = Date.now();
    const slow = a.request(b.selfId, [ECHO], { timeoutMs: 100 });
    assert(/did not reply within 100 ms/.test(rejectReason(await slow).reason));
    assert(Date.now() - started < 2_000, "the short timeout was not held up by the long one");
    const slower = a.request(b.selfId, [ECHO], { timeoutMs: 150 });
    assert(/within 150 ms/.test(rejectReason(await slower).reason));
    const controller = new AbortController();
    const aborted = a.request(b.selfId, [ECHO], { signal: controller.signal });
    controller.abort();
    assertEquals(rejectReason(await aborted).reason, "Request aborted");
    const early = a.request(b.selfId, [ECHO], { signal: controller.signal });
    assertEquals(rejectReason(await early).reason, "Request aborted");
    await b.close();
    assert(/closed/.test(rejectReason(await hanging).reason));
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("connections over the limit are closed with a reason; the peers within it are served", async () => {
  const b = await hub({ maxConnections: 1 });
  const a = await hub();
  const c = await hub();
  try {
    const at = await b.listen("127.0.0.1", 0);
    a.dial(at.url);
    await until(() => a.connected().length === 1);
    c.dial(at.url);
    await until(() =>
      c.table()[0].error !== null && /Too many connections/.test(c.table()[0].error!)
    );
    assertEquals(c.connected().length, 0);
    assert(isAccept(await a.request(b.selfId, [ECHO, "still here"])));
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

Deno.test("requests over the in-flight limit get a reject reply at once", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = await hub({
    maxInFlight: 3,
    handler: async (parms: Parms) => {
      await gate;
      return accept(...parms.slice(1));
    },
  });
  const a = await hub();
  try {
    const at = await b.listen("127.0.0.1", 0);
    a.dial(at.url);
    await until(() => a.connected().length === 1);
    const held = [1, 2, 3].map((i) => a.request(b.selfId, [ECHO, i]));
    const refused = await a.request(b.selfId, [ECHO, 4]);
    assert(/Too many requests in flight \(limit 3\)/.test(rejectReason(refused).reason));
    release();
    assert((await Promise.all(held)).every(isAccept));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

/** Opens a socket to `url` from `localAddress`; with `prove`, it completes the handshake as a fresh identity. */
async function stranger(
  url: string,
  localAddress: string,
  prove: boolean,
): Promise<{ link?: WsLink; ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
  ws.on("error", () => {});
  const closed = new Promise<number>((resolve) => ws.on("close", (code: number) => resolve(code)));
  if (!prove) return { ws, closed };
  const link = new WsLink(ws, {
    role: "dialer",
    identity: await generateIdentity(),
    url,
    handler: () => Promise.resolve(accept()),
  });
  return { link, ws, closed };
}

Deno.test("strangers from many addresses cannot lock an honest peer out", async () => {
  const b = await hub({
    maxConnections: 6,
    maxPerAddress: 2,
    maxHandshaking: 4,
    activeWindowMs: 300,
  });
  const a = await hub();
  const opened: { ws: WebSocket; closed: Promise<number> }[] = [];
  try {
    const { url } = await b.listen("127.0.0.1", 0);
    // One address gets 2 sockets; the rest are refused at once.
    const first = await Promise.all(
      Array.from({ length: 5 }, () => stranger(url, "127.0.0.2", true)),
    );
    opened.push(...first);
    const outcomes = await Promise.all(
      first.map((s) => s.link!.ready.then(() => "up", () => "refused")),
    );
    assertEquals(outcomes.filter((o) => o === "up").length, 2);
    // Authenticated strangers from four more addresses fill every slot, never more.
    for (const address of ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]) {
      const pair = await Promise.all([stranger(url, address, true), stranger(url, address, true)]);
      opened.push(...pair);
      await Promise.all(pair.map((s) => s.link!.ready.catch(() => {})));
    }
    await until(() => b.connected().length === 6);
    // Sockets that never say hello fill the handshake budget, and more keep coming.
    for (const address of ["127.0.0.7", "127.0.0.8", "127.0.0.9"]) {
      opened.push(await stranger(url, address, false), await stranger(url, address, false));
    }
    await new Promise((r) => setTimeout(r, 400)); // the strangers are idle now
    assert(b.connected().length <= 6);
    // The honest peer gets in (an idle stranger makes room) and is served.
    a.dial(url);
    await until(() => a.connected().length === 1);
    assert(isAccept(await a.request(b.selfId, [ECHO, "served"])));
    await until(() => b.connected().length <= 6);
    assert(b.connected().some((p) => p.id === a.selfId));
  } finally {
    for (const s of opened) s.ws.terminate();
    await Promise.all(opened.map((s) => s.closed));
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("when every slot is busy, a stranger waits; a configured peer still gets in", async () => {
  const b = await hub({ maxConnections: 1, activeWindowMs: 60_000 });
  const c = await hub();
  try {
    const { url } = await b.listen("127.0.0.1", 0);
    const busy = await stranger(url, "127.0.0.2", true);
    await busy.link!.ready;
    await until(() => b.connected().length === 1);
    const refused = await stranger(url, "127.0.0.3", true);
    const { code, reason } = await refused.link!.closed;
    assertEquals(code, 1013);
    assert(/Too many connections \(limit 1\)/.test(reason), reason);
    assertEquals(b.connected().length, 1);
    // b dials c itself: its own configured peer is never refused for a stranger.
    const atC = await c.listen("127.0.0.1", 0);
    b.dial(atC.url);
    await until(() => b.connected().some((p) => p.id === c.selfId));
    busy.ws.terminate();
    await busy.closed;
  } finally {
    await Promise.all([b.close(), c.close()]);
  }
});

Deno.test("datagrams cross a link both ways on their channel, sealed; a link not up drops them", async () => {
  const a = await hub();
  const b = await hub();
  try {
    assertEquals(a.sendDatagram(b.selfId, 1, new Uint8Array(3)), false); // no link yet
    const got: [string, number, string][] = [];
    b.onDatagram((from, channel, bytes) => got.push([from, channel, bytes.toHex()]));
    const back: number[] = [];
    a.onDatagram((_, channel) => back.push(channel));
    const at = await b.listen("127.0.0.1", 0);
    a.dial(at.url);
    await until(() => a.connected().length === 1 && b.connected().length === 1);
    for (let i = 0; i < 100; i++) {
      assert(a.sendDatagram(b.selfId, 7 + (i % 2), Uint8Array.of(i, 0xff)));
    }
    assert(b.sendDatagram(a.selfId, 0xffff_ffff, new Uint8Array(1420)));
    await until(() => got.length === 100 && back.length === 1);
    assertEquals(got[0], [a.selfId, 7, "00ff"]);
    assertEquals(got[99], [a.selfId, 8, "63ff"]);
    assertEquals(back, [0xffff_ffff]);
    // Requests still work around them (the sequence numbers stay in step).
    assert(isAccept(await a.request(b.selfId, [ECHO, "after"])));
    assertEquals(a.remoteAddress(b.selfId), "127.0.0.1");
    assertEquals(a.remoteAddress("nobody"), undefined);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("outbound handshakes run a few at a time: a dial waits for a slot while others stall", async () => {
  // Listeners that accept TCP and never answer the WebSocket upgrade: each holds a slot until
  // the handshake timeout.
  const stalls = [
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    Deno.listen({
      hostname: "127.0.0.1",
      port: 0,
    }),
  ];
  const held: Deno.Conn[] = [];
  for (const l of stalls) {
    void (async () => {
      for await (const c of l) held.push(c);
    })();
  }
  const stallUrls = stalls.map((l) => `ws://127.0.0.1:${(l.addr as Deno.NetAddr).port}`);
  const timeoutMs = 400;
  for (const [maxDialing, waits] of [[2, true], [3, false]] as const) {
    const a = await hub({
      maxDialing,
      handshakeTimeoutMs: timeoutMs,
      backoff: { minMs: 5000, maxMs: 5000 },
    });
    const b = await hub();
    try {
      const at = await b.listen("127.0.0.1", 0);
      for (const url of stallUrls) a.dial(url);
      await new Promise((r) => setTimeout(r, 50)); // the stalled dials take their slots first
      const start = performance.now();
      a.dial(at.url);
      await until(() => a.connected().length === 1, 5_000);
      const took = performance.now() - start;
      if (waits) assert(took >= timeoutMs - 100, `connected after ${took} ms without a free slot`);
      else assert(took < timeoutMs - 100, `a free slot still waited ${took} ms`);
    } finally {
      await a.close();
      await b.close();
    }
  }
  for (const l of stalls) l.close();
  for (const c of held) c.close();
});
