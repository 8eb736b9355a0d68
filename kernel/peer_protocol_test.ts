import { assert, assertEquals, assertThrows } from "./_assert_test.ts";
import { generateIdentity } from "./identity.ts";
import { encodeMessage } from "./codec.ts";
import { hashText } from "./hash.ts";
import { CodecError } from "./errors.ts";
import {
  checkHello,
  decodeFrame,
  encodeHello,
  encodeProof,
  encodeReply,
  encodeRequest,
  handshakeTranscript,
  HELLO_PROMISE,
  PEER_LINK_MODULE,
  PeerError,
  REQUEST_PROMISE,
} from "./peer_protocol.ts";

const P = hashText("some promise");
const nonce = () => crypto.getRandomValues(new Uint8Array(32));

Deno.test("decodeFrame() reads back each of the four link frames", async () => {
  const me = await generateIdentity();
  const hello = decodeFrame(encodeHello({ id: me.id, publicKey: me.publicKey, nonce: nonce() }));
  assertEquals(hello.kind, "hello");
  const proof = decodeFrame(encodeProof(new Uint8Array(64)));
  assertEquals(proof.kind, "proof");
  const request = decodeFrame(encodeRequest(7, 2, [P, P, "x"]));
  assert(request.kind === "request" && request.id === 7 && request.hops === 2);
  const reply = decodeFrame(encodeReply(7, [P, 1]));
  assert(reply.kind === "reply" && reply.id === 7 && reply.reply[1] === 1);
});

Deno.test("decodeFrame() refuses what is not a well-formed link frame", async (t) => {
  const rows: [string, Uint8Array, new (m: string) => Error][] = [
    ["not CBOR", new Uint8Array([0xff, 0x00, 0x13]), CodecError],
    [
      "a grid message to another module",
      encodeMessage([REQUEST_PROMISE.cid, P, 1, 0, [P]]),
      PeerError,
    ],
    ["an unknown promise", encodeMessage([P, PEER_LINK_MODULE]), PeerError],
    [
      "a request with a negative id",
      encodeMessage([REQUEST_PROMISE.cid, PEER_LINK_MODULE, -1, 0, [P]]),
      PeerError,
    ],
    [
      "a request whose message has no hash",
      encodeMessage([REQUEST_PROMISE.cid, PEER_LINK_MODULE, 1, 0, ["x"]]),
      PeerError,
    ],
    [
      "a hello with a short nonce",
      encodeMessage([
        HELLO_PROMISE.cid,
        PEER_LINK_MODULE,
        1,
        "id",
        new Uint8Array(32),
        new Uint8Array(8),
        null,
      ]),
      PeerError,
    ],
    [
      "a hello of another version",
      encodeMessage([
        HELLO_PROMISE.cid,
        PEER_LINK_MODULE,
        2,
        "id",
        new Uint8Array(32),
        nonce(),
        null,
      ]),
      PeerError,
    ],
  ];
  for (const [name, bytes, type] of rows) {
    await t.step(name, () => {
      assertThrows(() => decodeFrame(bytes), type as never);
    });
  }
  await t.step("a frame over the size limit", () => {
    assertThrows(
      () => decodeFrame(encodeRequest(1, 0, [P, new Uint8Array(2000)]), { maxBytes: 1000 }),
      CodecError,
    );
  });
});

Deno.test("checkHello() wants an id that is the hash of the key, and not our own", async () => {
  const a = await generateIdentity();
  const b = await generateIdentity();
  checkHello({ id: a.id, publicKey: a.publicKey, nonce: nonce() }, b.id);
  assertThrows(
    () => checkHello({ id: a.id, publicKey: b.publicKey, nonce: nonce() }, "x"),
    PeerError,
    "does not match",
  );
  assertThrows(
    () => checkHello({ id: a.id, publicKey: a.publicKey, nonce: nonce() }, a.id),
    PeerError,
    "own node id",
  );
  assertThrows(
    () => checkHello({ id: "nonsense", publicKey: a.publicKey, nonce: nonce() }, b.id),
    PeerError,
    "Invalid node id",
  );
});

Deno.test("handshakeTranscript() differs by role, nonce and id, so a signature cannot be reflected", async () => {
  const a = await generateIdentity();
  const b = await generateIdentity();
  const dialer = { id: a.id, publicKey: a.publicKey, nonce: nonce() };
  const listener = { id: b.id, publicKey: b.publicKey, nonce: nonce() };
  const asDialer = handshakeTranscript("dialer", dialer, listener);
  const asListener = handshakeTranscript("listener", dialer, listener);
  assert(asDialer.toHex() !== asListener.toHex());
  const fresh = handshakeTranscript("dialer", { ...dialer, nonce: nonce() }, listener);
  assert(asDialer.toHex() !== fresh.toHex());
});
