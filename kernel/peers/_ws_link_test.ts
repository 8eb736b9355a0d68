import { WebSocket, WebSocketServer } from "ws";
import { accept, isAccept, rejectReason } from "../promises.ts";
import { generateIdentity } from "../identity.ts";
import { hashText } from "../hash.ts";
import type { Logger } from "../service.ts";
import { assert, assertEquals } from "../_testing_assert.ts";
import { PeerHub } from "./hub.ts";
import { maxRecordBytes, POOL_BYTES, WsLink } from "./_ws_link.ts";
import {
  decodeFrame,
  encodeHello,
  encodeProof,
  encodeRequest,
  generateEphemeral,
  handshakeTranscript,
  type Hello,
  HELLO_PROMISE,
  LINK_VERSION,
  NONCE_BYTES,
  PEER_LINK_MODULE,
  PeerError,
} from "./_protocol.ts";
import { LENGTH_BYTES, TRAILER_BYTES } from "./_record.ts";
import { decodeMessage, encodeMessage } from "../codec.ts";

const ECHO = hashText("echo");

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("Timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("a link authenticates both ends and names the peer by its proven key", async () => {
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => Promise.resolve(accept(parms[1])),
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const me = await generateIdentity();
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const link = new WsLink(ws, {
      role: "dialer",
      identity: me,
      url,
      handler: () => Promise.resolve(accept()),
    });
    const peer = await link.ready;
    assertEquals(peer.id, server.selfId);
    assertEquals(peer.direction, "out");
    await until(() => server.connected().length === 1);
    assertEquals(server.connected()[0].id, me.id);
    assertEquals(server.connected()[0].publicKey, me.publicKey);
    link.close();
    const closed = await link.closed;
    assertEquals(closed.code, 1000);
    assertEquals(rejectReason(await link.request([ECHO])).code, "peer");
  } finally {
    await server.close();
  }
});

Deno.test("a peer that asks and never reads is cut off before it fills our memory", async () => {
  const events: string[] = [];
  const log: Logger = (_l, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`);
  const big = new Uint8Array(512 * 1024);
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: () => Promise.resolve(accept(big)),
    maxQueuedBytes: 4 * 1024 * 1024,
    log,
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const link = new WsLink(ws, {
      role: "dialer",
      identity: await generateIdentity(),
      url,
      handler: () => Promise.resolve(accept()),
    });
    await link.ready;
    await until(() => server.connected().length === 1);
    // Stop reading: the replies pile up on the server's side.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 200; i++) link.request([ECHO], { timeoutMs: 20_000 });
    await until(() => server.connected().length === 0);
    assert(events.some((e) => /not reading/.test(e)), "no log line for the cut-off");
    ws.terminate();
  } finally {
    await server.close();
  }
});

Deno.test("payloads of every size come back exact, also many at once in one read", async () => {
  const seen: Uint8Array[] = [];
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => {
      const bytes = parms[1] as Uint8Array;
      seen.push(bytes);
      return Promise.resolve(accept(bytes, bytes.slice()));
    },
  });
  const client = new PeerHub({
    identity: await generateIdentity(),
    handler: () => Promise.resolve(accept()),
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    client.dial(url);
    await until(() => client.connected().length === 1);
    const sizes = [0, 1, 23, 24, 1023, 1024, 1025, 4096, 65535, 65536, 300_000, 5_000_000];
    const payloads = sizes.map((n, i) => new Uint8Array(n).map((_, j) => (j * 31 + i) & 0xff));
    const replies = await Promise.all(
      payloads.map((p) => client.request(server.selfId, [ECHO, p])),
    );
    for (let i = 0; i < sizes.length; i++) {
      assertEquals(replies[i][1], payloads[i], `echo of ${sizes[i]} bytes`);
      assertEquals(replies[i][2], payloads[i], `copy of ${sizes[i]} bytes`);
    }
    // A kept payload holds little memory besides its own: twice its length at
    // most, or one pool of copies (small payloads share one allocation).
    for (const bytes of seen) {
      const held = bytes.buffer.byteLength;
      assert(
        held <= Math.max(2 * bytes.length, POOL_BYTES, 64),
        `${bytes.length} bytes hold ${held}`,
      );
    }
    // What the handler was given stays intact after more traffic, and a copy
    // made with slice() is independent of it.
    const kept = seen.map((b) => b.slice());
    await Promise.all(payloads.map((p) => client.request(server.selfId, [ECHO, p])));
    for (let i = 0; i < sizes.length; i++) assertEquals(seen[i], kept[i]);
    kept[sizes.length - 1][0] ^= 0xff;
    assert(seen[sizes.length - 1][0] !== kept[sizes.length - 1][0]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("closing a link clears its terminate timer once the socket has closed", async () => {
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: () => Promise.resolve(accept()),
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let terminated = 0;
    const terminate = ws.terminate.bind(ws);
    ws.terminate = () => {
      terminated++;
      terminate();
    };
    const link = new WsLink(ws, {
      role: "dialer",
      identity: await generateIdentity(),
      url,
      handler: () => Promise.resolve(accept()),
    });
    await link.ready;
    link.close();
    assertEquals((await link.closed).code, 1000);
    // The 2 s cut-off for a peer that ignores the close handshake must not outlive the socket.
    await new Promise((r) => setTimeout(r, 2_200));
    assertEquals(terminated, 0);
  } finally {
    await server.close();
  }
});

/**
 * A dialer link to a hand-made listener: `answer` gets the socket and the
 * dialer's hello, and sends whatever forged handshake the test needs.
 * `close` tears both ends down.
 */
async function dialForgedListener(
  answer: (ws: WebSocket, dialerHello: Hello) => void | Promise<void>,
  handshakeTimeoutMs?: number,
): Promise<{ link: WsLink; close: () => Promise<void> }> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  server.on("connection", (ws) => {
    ws.once("message", async (data: Uint8Array) => {
      const frame = decodeFrame(new Uint8Array(data));
      if (frame.kind === "hello") await answer(ws, frame.hello);
    });
  });
  const { port } = server.address() as { port: number };
  const url = `ws://127.0.0.1:${port}`;
  const link = new WsLink(new WebSocket(url, { perMessageDeflate: false }), {
    role: "dialer",
    identity: await generateIdentity(),
    url,
    handler: () => Promise.resolve(accept()),
    handshakeTimeoutMs,
  });
  const close = async () => {
    link.close();
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  };
  return { link, close };
}

/** The error `link.ready` rejects with, checked to be a PeerError about the signature. */
async function signatureFailure(link: WsLink): Promise<void> {
  const err = await link.ready.then(() => undefined, (e: unknown) => e);
  assert(err instanceof PeerError, `ready should reject with PeerError, got ${err}`);
  assert(/signature/.test(err.message), err.message);
}

Deno.test("a peer with a valid hello but a bad proof signature fails the link's ready quickly", async () => {
  const liar = await generateIdentity();
  const { link, close } = await dialForgedListener((ws) => {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const ephemeral = generateEphemeral().publicKey;
    ws.send(encodeHello({ id: liar.id, publicKey: liar.publicKey, nonce, ephemeral }));
    ws.send(encodeProof(crypto.getRandomValues(new Uint8Array(64))));
  }, 10_000);
  try {
    const start = performance.now();
    await signatureFailure(link);
    assert(performance.now() - start < 2_000, "rejected only at the handshake timeout");
    await link.closed;
  } finally {
    await close();
  }
});

/**
 * A dialer link to a real PeerHub whose outgoing frames pass through `tamper`
 * once the handshake is done; `raw` sends bytes as they are.
 */
async function tamperedLink(
  tamper: (frame: Uint8Array, raw: (b: Uint8Array) => void) => void,
) {
  const events: string[] = [];
  const log: Logger = (_l, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`);
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => Promise.resolve(accept(parms[1])),
    log,
  });
  const { url } = await server.listen("127.0.0.1", 0);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const send = ws.send.bind(ws) as (data: Uint8Array, opts?: unknown) => void;
  const raw = (b: Uint8Array) => send(b, { binary: true });
  let armed = false;
  (ws as unknown as { send: unknown }).send = (data: Uint8Array, opts?: unknown) => {
    if (armed) tamper(new Uint8Array(data), raw);
    else send(data, opts);
  };
  const link = new WsLink(ws, {
    role: "dialer",
    identity: await generateIdentity(),
    url,
    handler: () => Promise.resolve(accept()),
  });
  await link.ready;
  assert(isAccept(await link.request([ECHO, 1])), "a clean request before tampering");
  armed = true;
  return { server, link, events };
}

for (
  const [name, tamper, why] of [
    [
      "a flipped byte in a post-handshake frame",
      (frame: Uint8Array, raw: (b: Uint8Array) => void) => {
        frame[frame.length - TRAILER_BYTES - 3] ^= 0x40;
        raw(frame);
      },
      /MAC/,
    ],
    [
      "a replayed frame (same sequence number)",
      (frame: Uint8Array, raw: (b: Uint8Array) => void) => {
        raw(frame);
        raw(frame);
      },
      /sequence/,
    ],
    [
      "an injected frame with a made-up MAC",
      (frame: Uint8Array, raw: (b: Uint8Array) => void) => {
        raw(frame);
        const forged = new Uint8Array(encodeRequest(99, 0, [ECHO, 2]).length + TRAILER_BYTES);
        forged.set(encodeRequest(99, 0, [ECHO, 2]), 0);
        forged.set(
          crypto.getRandomValues(new Uint8Array(TRAILER_BYTES)),
          forged.length - TRAILER_BYTES,
        );
        raw(forged);
      },
      /MAC/,
    ],
    [
      "an injected frame without any MAC",
      (frame: Uint8Array, raw: (b: Uint8Array) => void) => {
        raw(frame);
        raw(encodeRequest(99, 0, [ECHO, 2]));
      },
      /MAC/,
    ],
    [
      "a frame slipped into a record in front of its frames",
      (record: Uint8Array, raw: (b: Uint8Array) => void) => {
        const extra = encodeRequest(99, 0, [ECHO, 2]);
        const out = new Uint8Array(LENGTH_BYTES + extra.length + record.length);
        new DataView(out.buffer).setUint32(0, extra.length);
        out.set(extra, LENGTH_BYTES);
        out.set(record, LENGTH_BYTES + extra.length);
        raw(out);
      },
      /MAC/,
    ],
    [
      "a dropped record (the next one arrives)",
      (() => {
        let seen = 0;
        return (record: Uint8Array, raw: (b: Uint8Array) => void) => {
          if (seen++ > 0) raw(record); // the first record after arming never arrives
        };
      })(),
      /sequence/,
    ],
    [
      "two records swapped",
      (() => {
        let held: Uint8Array | undefined;
        return (record: Uint8Array, raw: (b: Uint8Array) => void) => {
          if (!held) {
            held = record;
            return;
          }
          raw(record);
          raw(held);
        };
      })(),
      /sequence/,
    ],
    [
      "a record cut short",
      (record: Uint8Array, raw: (b: Uint8Array) => void) => {
        raw(record.subarray(0, record.length - 1));
      },
      /MAC/,
    ],
  ] as const
) {
  Deno.test(`${name} closes the link with a logged reason`, async () => {
    const { server, link, events } = await tamperedLink(tamper);
    try {
      // Two requests in two turns: two records (the drop and swap cases need a second).
      const first = link.request([ECHO, 3], { timeoutMs: 5_000 });
      await new Promise((r) => setTimeout(r, 20));
      const second = link.request([ECHO, 4], { timeoutMs: 5_000 });
      for (const reply of await Promise.all([first, second])) {
        assertEquals(rejectReason(reply).code, "peer");
      }
      const closed = await link.closed;
      assertEquals(closed.code, 4002, closed.reason);
      assert(why.test(closed.reason), closed.reason);
      assert(
        events.some((e) => e.startsWith("peer-protocol-error") && why.test(e)),
        events.join("\n"),
      );
      await until(() => server.connected().length === 0);
    } finally {
      link.close();
      await server.close();
    }
  });
}

Deno.test("a sealed frame over the receiver's frame limit closes the link with a logged reason", async () => {
  const events: string[] = [];
  const log: Logger = (_l, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`);
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => Promise.resolve(accept(parms[1])),
    maxFrameBytes: 4096,
    log,
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const link = new WsLink(new WebSocket(url, { perMessageDeflate: false }), {
      role: "dialer",
      identity: await generateIdentity(),
      url,
      handler: () => Promise.resolve(accept()),
    });
    await link.ready;
    assert(isAccept(await link.request([ECHO, new Uint8Array(1024)])), "a frame under the limit");
    // Sealed correctly by an authenticated peer, but larger than the listener reads.
    const reply = await link.request([ECHO, new Uint8Array(8192)], { timeoutMs: 5_000 });
    assertEquals(rejectReason(reply).code, "peer");
    const closed = await link.closed;
    assertEquals(closed.code, 4002, closed.reason);
    assert(/frame of \d+ bytes that does not fit/.test(closed.reason), closed.reason);
    assert(events.some((e) => e.startsWith("peer-protocol-error")), events.join("\n"));
  } finally {
    await server.close();
  }
});

Deno.test("a record over the WebSocket message limit closes the link before it is read (1009)", async () => {
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => Promise.resolve(accept(parms[1])),
    maxFrameBytes: 4096,
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const link = new WsLink(ws, {
      role: "dialer",
      identity: await generateIdentity(),
      url,
      handler: () => Promise.resolve(accept()),
    });
    await link.ready;
    // The listener's ws reads at most maxRecordBytes(4096) per message; one byte more is refused
    // by the WebSocket layer as it arrives, before any of it is buffered as a record.
    ws.send(new Uint8Array(maxRecordBytes(4096) + 1), { binary: true });
    assertEquals((await link.closed).code, 1009);
    await until(() => server.connected().length === 0);
  } finally {
    await server.close();
  }
});

Deno.test("many sealed frames in flight both ways all arrive, authenticated", async () => {
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: async (parms) => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return accept(parms[1]);
    },
  });
  const client = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => Promise.resolve(accept(parms[1])),
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    client.dial(url);
    await until(() => client.connected().length === 1 && server.connected().length === 1);
    const n = 250; // under the default 256 in flight per link
    const [there, back] = await Promise.all([
      Promise.all(Array.from({ length: n }, (_, i) => client.request(server.selfId, [ECHO, i]))),
      Promise.all(Array.from({ length: 200 }, (_, i) => server.request(client.selfId, [ECHO, i]))),
    ]);
    for (let i = 0; i < n; i++) assertEquals(there[i][1], i);
    for (let i = 0; i < 200; i++) assertEquals(back[i][1], i);
    assertEquals(client.connected().length, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a listener whose hello's X25519 key differs from the one it signed fails the proof", async () => {
  const mitm = await generateIdentity();
  const { link, close } = await dialForgedListener(async (ws, dialerHello) => {
    const signed: Hello = {
      id: mitm.id,
      publicKey: mitm.publicKey,
      nonce: crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
      ephemeral: generateEphemeral().publicKey,
    };
    const signature = await mitm.sign(handshakeTranscript("listener", dialerHello, signed));
    // Swap the X25519 key after signing: the proof must no longer verify.
    ws.send(encodeHello({ ...signed, ephemeral: generateEphemeral().publicKey }));
    ws.send(encodeProof(signature));
  });
  try {
    await signatureFailure(link);
    assertEquals((await link.closed).code, 4001);
  } finally {
    await close();
  }
});

Deno.test("the requests of one turn go out as one record, and so do their replies", async () => {
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms) => Promise.resolve(accept(parms[1])),
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const link = new WsLink(ws, {
      role: "dialer",
      identity: await generateIdentity(),
      url,
      handler: () => Promise.resolve(accept()),
    });
    await link.ready;
    let sent = 0;
    let received = 0;
    const send = ws.send.bind(ws) as (data: Uint8Array, opts?: unknown) => void;
    (ws as unknown as { send: unknown }).send = (data: Uint8Array, opts?: unknown) => {
      sent++;
      send(data, opts);
    };
    ws.on("message", () => received++);
    const replies = await Promise.all(
      Array.from({ length: 64 }, (_, i) => link.request([ECHO, i, new Uint8Array(1024)])),
    );
    replies.forEach((reply, i) => assertEquals(reply[1], i));
    assertEquals(sent, 1, "64 requests in one record");
    assertEquals(received, 1, "64 replies in one record");
    link.close();
    await link.closed;
  } finally {
    await server.close();
  }
});

/** A hello as a node of link `version` sends it (version 2's has the same slots as 3's). */
async function helloOfVersion(version: number): Promise<Uint8Array> {
  const old = await generateIdentity();
  return encodeMessage([
    HELLO_PROMISE.cid,
    PEER_LINK_MODULE,
    version,
    old.id,
    old.publicKey,
    crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
    generateEphemeral().publicKey,
    null,
  ]);
}

Deno.test("a node of the previous link version is refused with one line naming both versions", async () => {
  const events: string[] = [];
  const log: Logger = (_l, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`);
  const server = new PeerHub({
    identity: await generateIdentity(),
    handler: () => Promise.resolve(accept()),
    log,
  });
  try {
    const { url } = await server.listen("127.0.0.1", 0);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((r) => ws.once("open", r));
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once(
        "close",
        (code: number, reason: Uint8Array) => resolve([code, new TextDecoder().decode(reason)]),
      )
    );
    ws.send(await helloOfVersion(LINK_VERSION - 1));
    const want = `Peer speaks grid link version ${
      LINK_VERSION - 1
    }, this node speaks version ${LINK_VERSION}: upgrade the older node`;
    assertEquals(await closed, [4002, want]);
    const lines = events.filter((e) => e.includes("link version"));
    assertEquals(lines.length, 1, events.join("\n"));
    assert(lines[0].startsWith("peer-handshake-failed") && lines[0].includes(want), lines[0]);
  } finally {
    await server.close();
  }
});

Deno.test("a dialer refused by a node of the previous link version says which version it speaks", async () => {
  // What a version 2 listener does with a hello of another version.
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  wss.on("connection", (ws) => {
    ws.once("message", (data: Uint8Array) => {
      const version = decodeMessage(new Uint8Array(data))[2];
      ws.close(4002, `Bad frame: Unsupported hello (link version ${version})`);
    });
  });
  try {
    const { port } = wss.address() as { port: number };
    const url = `ws://127.0.0.1:${port}`;
    const dialer = new WsLink(new WebSocket(url, { perMessageDeflate: false }), {
      role: "dialer",
      identity: await generateIdentity(),
      url,
      handler: () => Promise.resolve(accept()),
    });
    const err = await dialer.ready.then(() => undefined, (e: unknown) => e);
    assert(err instanceof PeerError, String(err));
    assert(
      err.message.startsWith(
        `Peer refused our grid link version ${LINK_VERSION} hello: it speaks an older version (2 or before)`,
      ),
      err.message,
    );
    await dialer.closed;
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

/** Link options for the liveness tests below. */
interface Liveness {
  pingIntervalMs: number;
  deadAfterMs: number;
}

/**
 * A dialer and a listener link over loopback with their own liveness
 * timings, each socket's received pings counted.
 */
async function linkPair(dialerTiming: Liveness, listenerTiming: Liveness) {
  const events: string[] = [];
  const log: Logger = (_l, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`);
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const pings = { dialer: 0, listener: 0 };
  const identity = await generateIdentity(); // made first: the dialer's hello must find the link
  const listening = new Promise<{ link: WsLink; ws: WebSocket }>((resolve) =>
    wss.once("connection", (ws: WebSocket) => {
      ws.on("ping", () => pings.listener++);
      const link = new WsLink(ws, {
        role: "listener",
        identity,
        handler: (parms) => Promise.resolve(accept(parms[1])),
        log,
        ...listenerTiming,
      });
      resolve({ link, ws });
    })
  );
  const { port } = wss.address() as { port: number };
  const url = `ws://127.0.0.1:${port}`;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on("ping", () => pings.dialer++);
  const dialer = new WsLink(ws, {
    role: "dialer",
    identity: await generateIdentity(),
    url,
    handler: (parms) => Promise.resolve(accept(parms[1])),
    log,
    ...dialerTiming,
  });
  const listener = await listening;
  await Promise.all([dialer.ready, listener.link.ready]);
  const close = async () => {
    dialer.close();
    listener.link.close();
    await Promise.all([dialer.closed, listener.link.closed]);
    await new Promise((resolve) => wss.close(resolve));
  };
  return { dialer, dialerWs: ws, listener: listener.link, pings, events, close };
}

const FAST = { pingIntervalMs: 100, deadAfterMs: 300 };
/** Slower ticks for the tests that count pings: a busy machine delays timers. */
const COUNTED = { pingIntervalMs: 200, deadAfterMs: 600 };

Deno.test("a quiet link is pinged by its dialer alone, and the listener answers", async () => {
  const pair = await linkPair(COUNTED, COUNTED);
  try {
    const start = performance.now();
    await new Promise((r) => setTimeout(r, 2_000));
    const ticks = (performance.now() - start) / COUNTED.pingIntervalMs;
    assert(pair.pings.listener >= ticks / 2, `the dialer pinged ${pair.pings.listener} times`);
    // Both ends pinged before: as many pings each way. At most a stray one now, when the
    // dialer's timer ran late.
    assert(pair.pings.dialer <= 1, `the listener pinged ${pair.pings.dialer} times`);
    assert(pair.dialer.open && pair.listener.open, "a live quiet link was cut");
  } finally {
    await pair.close();
  }
});

Deno.test("a dialer skips its ping while records go both ways", async () => {
  const pair = await linkPair(COUNTED, COUNTED);
  try {
    const end = performance.now() + 2_000;
    while (performance.now() < end) {
      assert(isAccept(await pair.dialer.request([ECHO, 1])));
      await new Promise((r) => setTimeout(r, 10));
    }
    // Ten ticks of a busy link: at most a few pings, when a tick fell into a lull.
    assert(pair.pings.listener <= 3, `the dialer pinged ${pair.pings.listener} times`);
    assert(pair.pings.dialer <= 1, `the listener pinged ${pair.pings.dialer} times`);
  } finally {
    await pair.close();
  }
});

Deno.test("a listener cuts a dialer that went silent within its dead bound", async () => {
  // The dialer never pings (an hour's interval) and stops reading: it neither
  // pings nor answers the listener's last-chance ping.
  const pair = await linkPair({ pingIntervalMs: 3_600_000, deadAfterMs: 3_600_000 }, FAST);
  try {
    const socket = (pair.dialerWs as unknown as { _socket: { pause(): void } })._socket;
    const start = performance.now();
    socket.pause();
    await pair.listener.closed;
    const ms = performance.now() - start;
    assert(ms < FAST.deadAfterMs + 2 * FAST.pingIntervalMs + 500, `cut after ${ms} ms`);
    assert(ms >= FAST.deadAfterMs - FAST.pingIntervalMs, `cut after only ${ms} ms`);
    assert(pair.events.some((e) => e.startsWith("peer-silent")), pair.events.join("\n"));
  } finally {
    await pair.close();
  }
});

Deno.test("a dialer cuts a listener it no longer hears within its dead bound", async () => {
  const pair = await linkPair(FAST, FAST);
  try {
    const socket = (pair.dialerWs as unknown as { _socket: { pause(): void } })._socket;
    const start = performance.now();
    socket.pause(); // the listener's pongs are no longer read
    await pair.dialer.closed;
    const ms = performance.now() - start;
    assert(ms < FAST.deadAfterMs + 2 * FAST.pingIntervalMs + 500, `cut after ${ms} ms`);
    assert(pair.events.some((e) => e.startsWith("peer-silent")), pair.events.join("\n"));
  } finally {
    await pair.close();
  }
});

Deno.test("a listener keeps a dialer that pings less often than it expects, by asking itself", async () => {
  // The dialer never pings within the test; the listener's window between asking (875 ms of
  // silence) and cutting (1500 ms) is wide enough for a late timer on a busy machine.
  const pair = await linkPair(
    { pingIntervalMs: 10_000, deadAfterMs: 30_000 },
    { pingIntervalMs: 500, deadAfterMs: 1_500 },
  );
  try {
    await new Promise((r) => setTimeout(r, 3_000));
    assert(pair.dialer.open && pair.listener.open, pair.events.join("\n"));
    assert(pair.pings.dialer > 0, "the listener never asked");
  } finally {
    await pair.close();
  }
});
