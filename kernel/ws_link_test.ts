import { WebSocket } from "ws";
import { assert, assertEquals } from "./_assert_test.ts";
import { generateIdentity } from "./identity.ts";
import { accept, rejectReason } from "./promises.ts";
import { hashText } from "./hash.ts";
import type { Logger } from "./service.ts";
import { PeerHub } from "./peer_hub.ts";
import { WsLink } from "./ws_link.ts";

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
    handler: (parms) => Promise.resolve(accept(parms[1] as never)),
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
