import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import {
  homeAt,
  isReject,
  Kernel,
  loadIdentity,
  type Parms,
  readAnswer,
} from "../../kernel/mod.ts";
import { FakeWire } from "../membership/_testing_peers.ts";
import { clusterTest, meshOf, peerCount, waitFor } from "./_testing_cluster.ts";
import { pathMessage } from "./paths_protocol.ts";
import { RELAY_DEFAULTS, RelaySwitch } from "./relay.ts";
import { UdpProxy } from "./_udp_proxy.ts";
import { createSocket } from "node:dgram";

Deno.test("RelaySwitch: forwards only agreed circuits, within its rate, and drops a node's circuits with it", async () => {
  const wire = new FakeWire();
  const k = new Kernel();
  const [a, r, b] = ["a", "r", "b"].map((id) => wire.add(id, `ws://${id}`, k));
  wire.link("a", "r");
  wire.link("r", "b");
  let now = 0;
  const relay = new RelaySwitch(
    r,
    { enabled: true, maxCircuits: 2, maxBytesPerSecond: 3000 },
    () => {},
    () => now,
  );
  const atB: string[] = [];
  const endB = new RelaySwitch(b);
  endB.attach("r", 7, (bytes) => atB.push(bytes.toHex()));
  const endA = new RelaySwitch(a);
  assertEquals(relay.refuses("a", "b", 7), undefined);
  relay.open("net", "a", "b", 7);
  assert(/taken/.test(relay.refuses("a", "x", 7)!), "a circuit number is one circuit");
  endA.send("r", 7, Uint8Array.of(1, 2));
  endA.send("r", 8, Uint8Array.of(3)); // no such circuit: dropped at the relay
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEquals(atB, ["0102"]);
  assertEquals(relay.status(), {
    enabled: true,
    circuits: 1,
    maxCircuits: 2,
    bytes: 2,
    dropped: 1,
  });
  // Past its byte rate it drops, as a congested path would; the budget refills with time.
  // (2998 bytes of budget left: two of four 1000-byte packets pass.)
  for (let i = 0; i < 4; i++) endA.send("r", 7, new Uint8Array(1000));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEquals([relay.status().bytes, relay.status().dropped], [2002, 3]);
  now += 1000;
  endA.send("r", 7, new Uint8Array(1000));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEquals([relay.status().bytes, relay.status().dropped], [3002, 3]);
  relay.open("net", "a", "c", 9);
  assert(/at most 2 circuits/.test(relay.refuses("x", "y", 11)!));
  assertEquals(relay.dropNode("a").map((c) => c.other).sort(), ["b", "c"]);
  assertEquals(relay.circuits, 0);
  const off = new RelaySwitch(r, { ...RELAY_DEFAULTS, enabled: false });
  assert(/--no-relay/.test(off.refuses("a", "b", 1)!));
  for (const s of [relay, endA, endB, off]) s.close();
});

Deno.test("UdpProxy: takes only WireGuard's packets, hands the relay's back to WireGuard, drops them while paused", async () => {
  const wg = createSocket("udp4");
  await new Promise<void>((resolve) => wg.bind(0, "127.0.0.1", () => resolve()));
  const wgPort = wg.address().port;
  const atWg: string[] = [];
  wg.on("message", (msg) => atWg.push(new Uint8Array(msg).toHex()));
  const fromWg: string[] = [];
  const proxy = await UdpProxy.open(wgPort, (bytes) => fromWg.push(bytes.toHex()));
  const stranger = createSocket("udp4");
  try {
    assert(/^127\.0\.0\.1:\d+$/.test(proxy.endpoint));
    wg.send(Uint8Array.of(0xaa), proxy.port, "127.0.0.1");
    stranger.send(Uint8Array.of(0xbb), proxy.port, "127.0.0.1"); // not WireGuard: ignored
    proxy.deliver(Uint8Array.of(0xcc));
    proxy.paused = true;
    proxy.deliver(Uint8Array.of(0xdd));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals(fromWg, ["aa"]);
    assertEquals(atWg, ["cc"]);
    assertEquals(proxy.counts, { fromWg: 1, fromRelay: 1 });
  } finally {
    proxy.close();
    wg.close();
    stranger.close();
  }
});

clusterTest(
  "path messages: only live members of the net are answered, and malformed ones get one line",
  async (c) => {
    const [n0, n1, n2] = await meshOf(c, 3);
    const net = n0.mesh.nets.get("foo")!.settings.net;
    await waitFor("full mesh", () => [n0, n1, n2].every((n, i) => peerCount(n, `gt${i}`) === 2));
    const stranger = await loadIdentity(`${homeAt(await Deno.makeTempDir()).state}/identity`);
    const call = (from: string, ...parms: Parameters<typeof pathMessage>) =>
      n0.kernel.call(pathMessage(...parms), { origin: `peer:${from}`, hops: 0 });
    const refused = async (reply: Promise<Parms>, code: string, pattern: RegExp) => {
      const r = readAnswer(await reply);
      assert(!r.ok && r.code === code && pattern.test(r.reason), JSON.stringify(r));
    };
    await refused(
      call(stranger.id, "relay-open", net, n2.mesh.selfId, 5),
      "denied",
      /not a live member/,
    );
    await refused(
      call(n1.mesh.selfId, "relay-open", "bafynotanet", n2.mesh.selfId, 5),
      "not-found",
      /not in that net/,
    );
    await refused(
      call(n1.mesh.selfId, "relay-open", net, n2.mesh.selfId, 0),
      "codec",
      /relay-open message is malformed/,
    );
    await refused(call(n1.mesh.selfId, "relay-open", net, n2.mesh.selfId), "codec", /malformed/);
    await refused(
      call(n1.mesh.selfId, "relay-open", net, n1.mesh.selfId, 5),
      "denied",
      /another live member/,
    );
    await refused(
      call(n1.mesh.selfId, "punch", net, stranger.id, 1, false),
      "denied",
      /another live member/,
    );
    const local = await n0.kernel.call(pathMessage("punch", net, n2.mesh.selfId, 1, false), {
      origin: "local",
    });
    assert(isReject(local), "path messages come from peers only");
  },
);

clusterTest(
  "a member relays a circuit between two others; with --no-relay it refuses, saying so",
  async (c) => {
    const n0 = await c.add("n0");
    await n0.mesh.create({ name: "foo", interface: "gt0", listenPort: 51820 });
    const off = await c.add("off", { relay: { ...RELAY_DEFAULTS, enabled: false } });
    const joiners = [off];
    for (const name of ["n1", "n2"]) joiners.push(await c.add(name));
    for (const [i, n] of joiners.entries()) {
      const { token } = await n0.mesh.invite({ name: "foo" });
      await n.mesh.join({
        name: "foo",
        invite: token,
        interface: `gt${i + 1}`,
        listenPort: 51830 + i,
      });
    }
    const [, n1, n2] = joiners;
    const net = n0.mesh.nets.get("foo")!.settings.net;
    await waitFor(
      "full mesh",
      () => [n0, ...joiners].every((n, i) => peerCount(n, `gt${i}`) === 3),
    );
    // The follower of the pair takes the offer: the node with the larger id.
    const [arranger, follower] = n1.mesh.selfId < n2.mesh.selfId ? [n1, n2] : [n2, n1];
    const open = (via: typeof n0) =>
      via.kernel.call(pathMessage("relay-open", net, follower.mesh.selfId, 77), {
        origin: `peer:${arranger.mesh.selfId}`,
        hops: 0,
      });
    const no = readAnswer(await open(off));
    assert(!no.ok && /does not relay \(--no-relay\)/.test(no.reason), JSON.stringify(no));
    const yes = readAnswer(await open(n0));
    assert(yes.ok, JSON.stringify(yes));
    assertEquals((await n0.mesh.status({})).relay?.circuits, 1);
    // The arranger's packets on circuit 77 reach the follower's end through n0.
    const sender = c.wire.nodes.get(arranger.mesh.selfId)!.peers;
    for (let i = 0; i < 3; i++) {
      sender.sendDatagram(n0.mesh.selfId, 77, new Uint8Array(148));
    }
    sender.sendDatagram(n0.mesh.selfId, 78, new Uint8Array(10)); // never agreed: dropped
    await waitFor("forwarded", () => true, 10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const relay = (await n0.mesh.status({})).relay!;
    assertEquals([relay.bytes, relay.dropped], [3 * 148, 1]);
    const seen = (await follower.mesh.status({ name: "foo" })).nets[0].peers
      .find((p) => p.id === arranger.mesh.selfId)!;
    assertEquals(
      [seen.path, seen.via],
      ["connecting", n0.mesh.selfId],
      "the follower waits for a handshake",
    );
  },
);

Deno.test("a node of the previous release has no path module: it rejects path messages, so it is never asked again", async () => {
  const old = new Kernel(); // accepts no path promise, has no path module
  const reply = await old.call(pathMessage("relay-open", "bafynet", "bahwqcerapeer", 5), {
    origin: "peer:bahwqceraother",
    hops: 0,
  });
  const r = readAnswer(reply);
  assert(!r.ok, "refused");
  assert(r.reason.length > 0 && !r.reason.includes("\n"), `one line: ${r.reason}`);
});
