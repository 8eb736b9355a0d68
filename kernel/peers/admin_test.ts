import { assert, assertEquals, assertThrows } from "../_testing_assert.ts";
import { decodeMessage, encodeMessage } from "../codec.ts";
import { GridError } from "../errors.ts";
import { rejectReason } from "../promises.ts";
import {
  parsePeerUrl,
  peerAdminModule,
  peersDialMessage,
  peersListMessage,
  readPeerRows,
} from "./admin.ts";
import type { PeerRow } from "./hub.ts";

Deno.test("parsePeerUrl() takes ws and wss URLs only", async (t) => {
  const good: [string, string][] = [
    ["ws://127.0.0.1:7340", "ws://127.0.0.1:7340/"],
    ["wss://example.net/grid", "wss://example.net/grid"],
    ["ws://[::1]:81", "ws://[::1]:81/"],
    ["ws://[FD77:0:0::1]:7340", "ws://[fd77::1]:7340/"],
    ["ws://[2001:db8::1]:7340", "ws://[2001:db8::1]:7340/"],
  ];
  for (const [text, want] of good) {
    await t.step(`accepts ${text}`, () => assertEquals(parsePeerUrl(text), want));
  }
  for (
    const bad of [
      "http://x",
      "ws://",
      "nonsense",
      "ws://u:p@host",
      "ws://h/#frag",
      "file:///etc",
      "ws://[fe80::1]:7340",
      "ws://[fe80::1%25eth0]:7340",
      "ws://fd77::1:7340",
    ]
  ) {
    await t.step(`refuses ${bad}`, () => {
      assertThrows(() => parsePeerUrl(bad), GridError, "Invalid peer URL");
    });
  }
});

Deno.test("the admin module lists and dials for the local user only", async () => {
  const dialled: string[] = [];
  const rows: PeerRow[] = [{
    url: "ws://a:1/",
    id: "x",
    state: "up",
    direction: "out",
    score: 2,
    error: null,
  }];
  const admin = peerAdminModule({ selfId: "me", table: () => rows, dial: (u) => dialled.push(u) });
  const call = () => Promise.reject(new Error("unused"));
  const local = { origin: "local", hops: 0, call };
  const list = await admin.accept(peersListMessage(), local);
  // The reply survives the wire.
  const read = readPeerRows(decodeMessage(encodeMessage(list)));
  assertEquals(read, { selfId: "me", rows });
  await admin.accept(peersDialMessage("ws://b:2"), local);
  assertEquals(dialled, ["ws://b:2/"]);
  const bad = await admin.accept(peersDialMessage("http://b"), local);
  assertEquals(rejectReason(bad).code, "usage");
  const remote = await admin.accept(peersListMessage(), { ...local, origin: "peer:someone" });
  assertEquals(rejectReason(remote).code, "denied");
  assert(readPeerRows(remote) === undefined);
});
