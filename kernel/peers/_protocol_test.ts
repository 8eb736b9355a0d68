import { assert, assertEquals, assertThrows } from "../_testing_assert.ts";
import { CodecError } from "../errors.ts";
import { encodeMessage, type Parm, type Parms } from "../codec.ts";
import { generateIdentity, verifySignature } from "../identity.ts";
import { hashText } from "../hash.ts";
import {
  checkHello,
  DATAGRAM_PROMISE,
  decodeFrame,
  deriveLinkKeys,
  encodeDatagram,
  encodeHello,
  encodeProof,
  encodeReply,
  encodeRequest,
  generateEphemeral,
  handshakeTranscript,
  HELLO_PROMISE,
  LINK_VERSION,
  LinkVersionError,
  PEER_LINK_MODULE,
  PeerError,
  REPLY_PROMISE,
  REQUEST_PROMISE,
} from "./_protocol.ts";

const P = hashText("some promise");
const nonce = () => crypto.getRandomValues(new Uint8Array(32));
const eph = () => generateEphemeral().publicKey;

Deno.test("decodeFrame() reads back each of the four link frames", async () => {
  const me = await generateIdentity();
  const hello = decodeFrame(
    encodeHello({ id: me.id, publicKey: me.publicKey, nonce: nonce(), ephemeral: eph() }),
  );
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
      "a hello of a newer version",
      encodeMessage([
        HELLO_PROMISE.cid,
        PEER_LINK_MODULE,
        LINK_VERSION + 1,
        "id",
        new Uint8Array(32),
        nonce(),
        eph(),
        null,
      ]),
      PeerError,
    ],
    [
      "a version 1 hello (no ephemeral key, no frame MACs)",
      encodeMessage([
        HELLO_PROMISE.cid,
        PEER_LINK_MODULE,
        1,
        "id",
        new Uint8Array(32),
        nonce(),
        null,
      ]),
      PeerError,
    ],
    [
      "a hello with a short X25519 key",
      encodeMessage([
        HELLO_PROMISE.cid,
        PEER_LINK_MODULE,
        LINK_VERSION,
        "id",
        new Uint8Array(32),
        nonce(),
        new Uint8Array(31),
        null,
      ]),
      PeerError,
    ],
  ];
  for (const [name, bytes, type] of rows) {
    await t.step(name, () => {
      assertThrows(() => decodeFrame(bytes), type);
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
  checkHello({ id: a.id, publicKey: a.publicKey, nonce: nonce(), ephemeral: eph() }, b.id);
  assertThrows(
    () => checkHello({ id: a.id, publicKey: b.publicKey, nonce: nonce(), ephemeral: eph() }, "x"),
    PeerError,
    "does not match",
  );
  assertThrows(
    () => checkHello({ id: a.id, publicKey: a.publicKey, nonce: nonce(), ephemeral: eph() }, a.id),
    PeerError,
    "own node id",
  );
  assertThrows(
    () =>
      checkHello(
        { id: "nonsense", publicKey: a.publicKey, nonce: nonce(), ephemeral: eph() },
        b.id,
      ),
    PeerError,
    "Invalid node id",
  );
});

Deno.test("handshakeTranscript() differs by role, nonce and id, so a signature cannot be reflected", async () => {
  const a = await generateIdentity();
  const b = await generateIdentity();
  const dialer = { id: a.id, publicKey: a.publicKey, nonce: nonce(), ephemeral: eph() };
  const listener = { id: b.id, publicKey: b.publicKey, nonce: nonce(), ephemeral: eph() };
  const asDialer = handshakeTranscript("dialer", dialer, listener);
  const asListener = handshakeTranscript("listener", dialer, listener);
  assert(asDialer.toHex() !== asListener.toHex());
  const fresh = handshakeTranscript("dialer", { ...dialer, nonce: nonce() }, listener);
  assert(asDialer.toHex() !== fresh.toHex());
});

Deno.test("encodeRequest() and encodeReply() give exactly the codec's bytes for the whole frame", () => {
  const cids = [P, hashText("another"), REQUEST_PROMISE.cid];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const value = (depth: number): Parm => {
    switch (rand(depth > 2 ? 7 : 9)) {
      case 0:
        return rand(2) === 0 ? rand(30) : -rand(1_000_000) - 1;
      case 1:
        return rand(2) === 0 ? Number.MAX_SAFE_INTEGER - rand(5) : rand(1000) / 7;
      case 2:
        return ["", "x", "grüße", "a".repeat(rand(300))][rand(4)];
      case 3:
        return new Uint8Array(rand(2) === 0 ? rand(30) : rand(40_000)).fill(rand(256));
      case 4:
        return cids[rand(cids.length)];
      case 5:
        return [true, false, null][rand(3)];
      case 6:
        return rand(2) === 0 ? 0 : 2 ** 32 + rand(9);
      case 7:
        return Array.from({ length: rand(5) }, () => value(depth + 1));
      default: {
        const out: Record<string, Parm> = {};
        for (let i = rand(4); i > 0; i--) out[`k${rand(50)}`] = value(depth + 1);
        return out;
      }
    }
  };
  for (let i = 0; i < 500; i++) {
    const parms: Parms = [cids[rand(3)], ...Array.from({ length: rand(6) }, () => value(0))];
    const id = [0, 1, 23, 24, 255, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER][rand(8)];
    const hops = rand(10);
    // Compared as hex: the codec may hand back a Buffer, the splice a plain Uint8Array.
    assertEquals(
      encodeRequest(id, hops, parms).toHex(),
      encodeMessage([REQUEST_PROMISE.cid, PEER_LINK_MODULE, id, hops, parms]).toHex(),
      `request ${i}`,
    );
    assertEquals(
      encodeReply(id, parms).toHex(),
      encodeMessage([REPLY_PROMISE.cid, PEER_LINK_MODULE, id, parms]).toHex(),
      `reply ${i}`,
    );
  }
  // What the codec refuses, the frame encoders refuse the same way.
  assertThrows(() => encodeRequest(1, 0, [P, undefined as unknown as Parm]), CodecError);
  assertThrows(() => encodeReply(1, [P, new Set() as unknown as Parm]), CodecError);
  assertThrows(() => encodeReply(1, [P, new Uint8Array(17 * 1024 * 1024)]), CodecError);
  assertThrows(() => encodeRequest(1, 0, [P, "x", new Uint8Array(16 * 1024 * 1024)]), CodecError);
});

Deno.test("encodeDatagram() gives exactly the codec's bytes, and decodeFrame() reads it back", () => {
  const channels = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 0xffff_ffff];
  const sizes = [0, 1, 23, 24, 148, 255, 256, 1420, 65_535];
  for (const channel of channels) {
    for (const size of sizes) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 7 + channel) & 0xff);
      const frame = encodeDatagram(channel, bytes);
      assertEquals(
        frame.toHex(),
        encodeMessage([DATAGRAM_PROMISE.cid, PEER_LINK_MODULE, channel, bytes]).toHex(),
        `channel ${channel}, ${size} bytes`,
      );
      const back = decodeFrame(frame);
      assert(back.kind === "datagram" && back.channel === channel);
      assertEquals(back.bytes.toHex(), bytes.toHex());
    }
  }
  assertThrows(() => encodeDatagram(-1, new Uint8Array(1)), PeerError);
  assertThrows(() => encodeDatagram(2 ** 32, new Uint8Array(1)), PeerError);
  assertThrows(() => encodeDatagram(1, new Uint8Array(65_536)), PeerError);
  for (
    const bad of [
      [DATAGRAM_PROMISE.cid, PEER_LINK_MODULE, 2 ** 32, new Uint8Array(1)],
      [DATAGRAM_PROMISE.cid, PEER_LINK_MODULE, 1, "text"],
      [DATAGRAM_PROMISE.cid, PEER_LINK_MODULE, 1, new Uint8Array(65_536)],
      [DATAGRAM_PROMISE.cid, PEER_LINK_MODULE, 1],
    ] as Parms[]
  ) {
    assertThrows(() => decodeFrame(encodeMessage(bad)), PeerError);
  }
});

Deno.test("the handshake transcript binds both ephemeral keys: a swapped X25519 key fails the proof", async () => {
  const a = await generateIdentity();
  const b = await generateIdentity();
  const dialer = { id: a.id, publicKey: a.publicKey, nonce: nonce(), ephemeral: eph() };
  const listener = { id: b.id, publicKey: b.publicKey, nonce: nonce(), ephemeral: eph() };
  const signature = await b.sign(handshakeTranscript("listener", dialer, listener));
  assert(
    await verifySignature(
      b.publicKey,
      signature,
      handshakeTranscript("listener", dialer, listener),
    ),
  );
  // An on-path attacker swaps the listener's key (or the dialer's) for its own after signing.
  const swapped = { ...listener, ephemeral: eph() };
  assert(
    !(await verifySignature(
      b.publicKey,
      signature,
      handshakeTranscript("listener", dialer, swapped),
    )),
  );
  const swappedDialer = { ...dialer, ephemeral: eph() };
  assert(
    !(await verifySignature(
      b.publicKey,
      signature,
      handshakeTranscript("listener", swappedDialer, listener),
    )),
  );
  // And the swapped hello round-trips through the codec with its key intact.
  const decoded = decodeFrame(encodeHello(swapped));
  assert(decoded.kind === "hello");
  assertEquals(new Uint8Array(decoded.hello.ephemeral), new Uint8Array(swapped.ephemeral));
});

Deno.test("deriveLinkKeys() gives both ends the same keys, one per direction", async () => {
  const a = await generateIdentity();
  const b = await generateIdentity();
  const ea = generateEphemeral();
  const eb = generateEphemeral();
  const dialer = { id: a.id, publicKey: a.publicKey, nonce: nonce(), ephemeral: ea.publicKey };
  const listener = { id: b.id, publicKey: b.publicKey, nonce: nonce(), ephemeral: eb.publicKey };
  const d = deriveLinkKeys("dialer", ea, dialer, listener);
  const l = deriveLinkKeys("listener", eb, dialer, listener);
  assertEquals(d.send, l.receive);
  assertEquals(d.receive, l.send);
  assertEquals(d.send.length, 32);
  assert(d.send.toHex() !== d.receive.toHex());
  // Other nonces (another session with the same keys) give other keys.
  const again = deriveLinkKeys("dialer", ea, { ...dialer, nonce: nonce() }, listener);
  assert(again.send.toHex() !== d.send.toHex());
  // A low-order X25519 point gives no shared secret: refused, not used.
  assertThrows(
    () => deriveLinkKeys("dialer", ea, dialer, { ...listener, ephemeral: new Uint8Array(32) }),
    PeerError,
  );
});

Deno.test("a hello of the previous link version is refused with one line naming both versions", () => {
  const me = { id: "id", publicKey: new Uint8Array(32), nonce: nonce(), ephemeral: eph() };
  for (const version of [LINK_VERSION - 1, 1]) {
    const slots = version === 1 ? [nonce(), null] : [nonce(), eph(), null];
    const hello = encodeMessage([
      HELLO_PROMISE.cid,
      PEER_LINK_MODULE,
      version,
      me.id,
      me.publicKey,
      ...slots,
    ]);
    const err = assertThrows(() => decodeFrame(hello), LinkVersionError);
    assertEquals(
      err.message,
      `Peer speaks grid link version ${version}, this node speaks version ${LINK_VERSION}: upgrade the older node`,
    );
    assert(!err.message.includes("\n"));
  }
  assertEquals(LINK_VERSION, 3);
});
