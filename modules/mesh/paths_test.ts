import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import {
  generateIdentity,
  homeAt,
  isReject,
  Kernel,
  loadIdentity,
  type Parms,
  readAnswer,
} from "../../kernel/mod.ts";
import { FakeWire } from "../membership/_testing_peers.ts";
import {
  type Cluster,
  clusterTest,
  meshOf,
  peerCount,
  type TestNode,
  waitFor,
} from "./_testing_cluster.ts";
import { pathMessage } from "./paths_protocol.ts";
import { type PathOrder, readOrder, SeenOrders, signOrder } from "./path_order.ts";
import { RELAY_DEFAULTS, RelaySwitch } from "./relay.ts";
import { UdpProxy } from "./_udp_proxy.ts";
import { createSocket } from "node:dgram";

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("RelaySwitch: forwards only agreed circuits, within its rate, fairly, and drops circuits with their ends", async () => {
  const wire = new FakeWire();
  const k = new Kernel();
  const [a, r, b, c] = ["a", "r", "b", "c"].map((id) => wire.add(id, `ws://${id}`, k));
  wire.link("a", "r");
  wire.link("r", "b");
  wire.link("r", "c");
  let now = 0;
  const limits = { enabled: true, maxCircuits: 8, maxBytesPerSecond: 3000 };
  const relay = new RelaySwitch(r, limits, () => {}, () => now);
  const atB: string[] = [];
  const endB = new RelaySwitch(b);
  endB.attach("r", 7, (bytes) => atB.push(bytes.toHex()));
  const endA = new RelaySwitch(a);
  assertEquals(relay.refuses("n", "a", "b", 7), undefined);
  relay.open("n", "a", "b", 7);
  assert(/taken/.test(relay.refuses("n", "a", "x", 7)!), "a circuit number is one circuit");
  endA.send("r", 7, Uint8Array.of(1, 2));
  endA.send("r", 8, Uint8Array.of(3)); // no such circuit: dropped at the relay
  await tick();
  assertEquals(atB, ["0102"]);
  assertEquals(relay.status(), {
    enabled: true,
    circuits: 1,
    maxCircuits: 8,
    bytes: 2,
    dropped: 1,
  });
  // Past its byte rate it drops, as a congested path would; the budget refills with time.
  // (2998 bytes of budget left: two of four 1000-byte packets pass.)
  for (let i = 0; i < 4; i++) endA.send("r", 7, new Uint8Array(1000));
  await tick();
  assertEquals([relay.status().bytes, relay.status().dropped], [2002, 3]);
  now += 1000;
  endA.send("r", 7, new Uint8Array(1000));
  await tick();
  assertEquals([relay.status().bytes, relay.status().dropped], [3002, 3]);
  // A second circuit: while the budget runs low, each gets only its fair share (half).
  relay.open("n", "c", "b", 9);
  const endC = new RelaySwitch(c);
  now += 1000;
  endA.send("r", 7, new Uint8Array(1000));
  endA.send("r", 7, new Uint8Array(1000)); // plenty left: a lone burst runs at the full rate
  endA.send("r", 7, new Uint8Array(1000)); // low now, and a has used its share: dropped
  endC.send("r", 9, new Uint8Array(500)); // c's share is untouched: passes
  await tick();
  assertEquals([relay.status().bytes, relay.status().dropped], [5502, 4]);
  endC.close();
  // One circuit per pair: a new one replaces the old.
  relay.open("n", "b", "a", 11);
  assertEquals(relay.circuits, 2);
  endA.send("r", 7, new Uint8Array(1));
  await tick();
  assertEquals(relay.status().dropped, 5, "the old circuit is gone");
  // A member that is revoked or left: its circuits go, the live end is told.
  assertEquals(relay.prune("n", (id) => id !== "c").map((x) => [x.other, x.gone]), [["b", "c"]]);
  assertEquals(relay.dropNode("a").map((x) => x.other), ["b"]);
  assertEquals(relay.circuits, 0);
  const off = new RelaySwitch(r, { ...RELAY_DEFAULTS, enabled: false });
  assert(/--no-relay/.test(off.refuses("n", "a", "b", 1)!));
  for (const s of [relay, endA, endB, off]) s.close();
});

Deno.test("RelaySwitch: one member gets a quarter of the circuits; idle circuits expire", () => {
  const wire = new FakeWire();
  const r = wire.add("r", "ws://r", new Kernel());
  let now = 0;
  const relay = new RelaySwitch(
    r,
    { enabled: true, maxCircuits: 32, maxBytesPerSecond: 1e6 },
    () => {},
    () => now,
  );
  assertEquals(relay.perMember, 8);
  for (let i = 1; i <= 8; i++) relay.open("n", "m", `v${i}`, i);
  assert(/at most 8 circuits for one member/.test(relay.refuses("n", "m", "v9", 9)!));
  assertEquals(relay.refuses("n", "m", "v1", 99), undefined, "replacing a pair's circuit is fine");
  assertEquals(relay.refuses("n", "honest", "v1", 50), undefined, "others still get circuits");
  now += 100_000;
  relay.open("n", "honest", "v1", 50);
  assertEquals(relay.expire(90_000).length, 16, "8 idle circuits, both ends told");
  assertEquals(relay.circuits, 1);
  relay.close();
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

Deno.test("path orders: signed by the arranger, for this net and node, fresh, taken once", async () => {
  const arranger = await generateIdentity();
  const other = await generateIdentity();
  const now = 1_800_000_000_000;
  const order: PathOrder = {
    op: "relay",
    net: "bafynet",
    arranger: arranger.id,
    follower: "bahwqcerafollower",
    at: now,
    via: "bahwqcerarelay",
    circuit: 9,
  };
  const keys = new Map([[arranger.id, arranger.publicKey], [other.id, other.publicKey]]);
  const check = {
    net: "bafynet",
    follower: "bahwqcerafollower",
    key: (id: string) => keys.get(id),
    now,
  };
  const bytes = await signOrder(arranger, order);
  assertEquals((await readOrder(bytes, check)).circuit, 9);
  const refused = async (b: Uint8Array, c = check) => {
    try {
      await readOrder(b, c);
      return "taken";
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert(
    /not signed by/.test(await refused(await signOrder(other, order))),
    "forged by another member",
  );
  assert(/another node/.test(await refused(bytes, { ...check, follower: "bahwqceraelse" })));
  assert(/another net/.test(await refused(bytes, { ...check, net: "bafyother" })));
  assert(/stale/.test(await refused(bytes, { ...check, now: now + 10 * 60_000 })));
  const tampered = bytes.slice();
  tampered[10] ^= 1;
  assert(/malformed|not signed/.test(await refused(tampered)));
  assert(
    /needs circuit/.test(
      await refused(await signOrder(arranger, { ...order, circuit: undefined })),
    ),
  );
  const seen = new SeenOrders();
  assert(seen.first(bytes, now));
  assert(!seen.first(bytes, now + 1000), "the same order twice");
});

/** Path message `op` to `to`, as if from `from`. */
function call(to: TestNode, from: string, ...parms: Parameters<typeof pathMessage>) {
  return to.kernel.call(pathMessage(...parms), { origin: `peer:${from}`, hops: 0 });
}

async function refused(reply: Promise<Parms>, code: string, pattern: RegExp): Promise<void> {
  const r = readAnswer(await reply);
  assert(!r.ok && r.code === code && pattern.test(r.reason), JSON.stringify(r));
}

/** n0 founds "foo", then `names` join through its invites (their own listen ports). */
async function netOf(c: Cluster, names: string[], relayOff: string[] = []): Promise<TestNode[]> {
  const n0 = await c.add("n0");
  await n0.mesh.create({ name: "foo", interface: "gt0", listenPort: 51820 });
  const nodes = [n0];
  for (const [i, name] of names.entries()) {
    const n = await c.add(
      name,
      relayOff.includes(name) ? { relay: { ...RELAY_DEFAULTS, enabled: false } } : {},
    );
    const { token } = await n0.mesh.invite({ name: "foo" });
    await n.mesh.join({
      name: "foo",
      invite: token,
      interface: `gt${i + 1}`,
      listenPort: 51830 + i,
    });
    nodes.push(n);
  }
  await waitFor("full mesh", () => nodes.every((n, i) => peerCount(n, `gt${i}`) === names.length));
  return nodes;
}

clusterTest(
  "path messages: only live members of the net are answered, and malformed ones get one line",
  async (c) => {
    const [n0, n1, n2] = await meshOf(c, 3);
    const net = n0.mesh.nets.get("foo")!.settings.net;
    await waitFor("full mesh", () => [n0, n1, n2].every((n, i) => peerCount(n, `gt${i}`) === 2));
    const stranger = await loadIdentity(`${homeAt(await Deno.makeTempDir()).state}/identity`);
    const order = new Uint8Array(10);
    const [a, b] = [n1.mesh.selfId, n2.mesh.selfId];
    await refused(
      call(n0, stranger.id, "relay-open", net, b, 5, order),
      "denied",
      /not a live member/,
    );
    await refused(
      call(n0, a, "relay-open", "bafynotanet", b, 5, order),
      "not-found",
      /not in that net/,
    );
    await refused(
      call(n0, a, "relay-open", net, b, 0, order),
      "codec",
      /relay-open message is malformed/,
    );
    await refused(call(n0, a, "relay-open", net, b, 5), "codec", /malformed/);
    await refused(call(n0, a, "relay-open", net, a, 5, order), "denied", /another live member/);
    await refused(
      call(n0, a, "punch", net, stranger.id, 1, false, order),
      "denied",
      /another live member/,
    );
    const local = await n0.kernel.call(pathMessage("punch", net, b, 1, false, order), {
      origin: "local",
    });
    assert(isReject(local), "path messages come from peers only");
  },
);

clusterTest(
  "a member relays a circuit the arranger signed; with --no-relay it refuses, saying so",
  async (c) => {
    const [n0, off, n1, n2] = await netOf(c, ["off", "n1", "n2"], ["off"]);
    const net = n0.mesh.nets.get("foo")!.settings.net;
    // The follower of the pair takes the offer: the node with the larger id.
    const [arranger, follower] = n1.mesh.selfId < n2.mesh.selfId ? [n1, n2] : [n2, n1];
    const open = async (via: TestNode, circuit: number) => {
      const order = await signOrder(arranger.identity, {
        op: "relay",
        net,
        arranger: arranger.mesh.selfId,
        follower: follower.mesh.selfId,
        at: Date.now(),
        via: via.mesh.selfId,
        circuit,
      });
      return call(
        via,
        arranger.mesh.selfId,
        "relay-open",
        net,
        follower.mesh.selfId,
        circuit,
        order,
      );
    };
    const no = readAnswer(await open(off, 76));
    assert(!no.ok && /does not relay \(--no-relay\)/.test(no.reason), JSON.stringify(no));
    const yes = readAnswer(await open(n0, 77));
    assert(yes.ok, JSON.stringify(yes));
    assertEquals((await n0.mesh.status({})).relay?.circuits, 1);
    // The arranger's packets on circuit 77 reach the follower's end through n0.
    const sender = c.wire.nodes.get(arranger.mesh.selfId)!.peers;
    for (let i = 0; i < 3; i++) sender.sendDatagram(n0.mesh.selfId, 77, new Uint8Array(148));
    sender.sendDatagram(n0.mesh.selfId, 78, new Uint8Array(10)); // never agreed: dropped
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

clusterTest(
  "no member can steer a pair it is not part of: forged, replayed and misdirected orders are refused",
  async (c) => {
    const [n0, n1, n2, m] = await netOf(c, ["n1", "n2", "m"]);
    const net = n0.mesh.nets.get("foo")!.settings.net;
    const [arranger, follower] = n1.mesh.selfId < n2.mesh.selfId ? [n1, n2] : [n2, n1];
    const base = {
      net,
      arranger: arranger.mesh.selfId,
      follower: follower.mesh.selfId,
      at: Date.now(),
    };
    const moves = () => follower.wg.moves.length;
    const before = moves();
    // m signs a punch order in the arranger's name and passes it on as a helper would.
    const forged = await signOrder(m.identity, {
      ...base,
      op: "punch",
      attempt: 1,
      upgrade: false,
      candidates: ["203.0.113.9:53"],
    });
    await refused(
      call(follower, m.mesh.selfId, "punch-go", net, arranger.mesh.selfId, forged),
      "denied",
      /not signed by/,
    );
    // m offers a circuit of its own with an order the arranger signed for another relay.
    const forN0 = await signOrder(arranger.identity, {
      ...base,
      op: "relay",
      via: n0.mesh.selfId,
      circuit: 5,
    });
    await refused(
      call(follower, m.mesh.selfId, "relay-offer", net, arranger.mesh.selfId, forN0),
      "denied",
      /names another relay/,
    );
    // A genuine punch order taken once; the same bytes again are refused.
    const genuine = await signOrder(arranger.identity, {
      ...base,
      op: "punch",
      attempt: 2,
      upgrade: false,
      candidates: ["198.51.100.7:51820"],
    });
    const took = readAnswer(
      await call(follower, n0.mesh.selfId, "punch-go", net, arranger.mesh.selfId, genuine),
    );
    assert(took.ok, JSON.stringify(took));
    assertEquals(moves(), before + 1);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await refused(
      call(follower, m.mesh.selfId, "punch-go", net, arranger.mesh.selfId, genuine),
      "denied",
      /already taken/,
    );
    // An order for the arranger's own role is refused by the arranger.
    const backwards = await signOrder(follower.identity, {
      net,
      arranger: follower.mesh.selfId,
      follower: arranger.mesh.selfId,
      at: Date.now(),
      op: "punch",
      attempt: 3,
      upgrade: false,
      candidates: ["198.51.100.8:51820"],
    });
    await refused(
      call(arranger, n0.mesh.selfId, "punch-go", net, follower.mesh.selfId, backwards),
      "denied",
      /arranges this pair/,
    );
    assertEquals(moves(), before + 1, "WireGuard moved once, for the genuine order only");
  },
);

clusterTest("an end that is no longer a member can still close its circuit", async (c) => {
  const [n0, n1, n2] = await netOf(c, ["n1", "n2"]);
  const net = n0.mesh.nets.get("foo")!.settings.net;
  const [arranger, follower] = n1.mesh.selfId < n2.mesh.selfId ? [n1, n2] : [n2, n1];
  const order = await signOrder(arranger.identity, {
    op: "relay",
    net,
    arranger: arranger.mesh.selfId,
    follower: follower.mesh.selfId,
    at: Date.now(),
    via: n0.mesh.selfId,
    circuit: 42,
  });
  assert(
    readAnswer(
      await call(n0, arranger.mesh.selfId, "relay-open", net, follower.mesh.selfId, 42, order),
    ).ok,
  );
  await n0.mesh.revoke({ name: "foo", node: arranger.mesh.selfId });
  await waitFor("pruned", () => true, 10);
  const closed = readAnswer(
    await call(n0, arranger.mesh.selfId, "relay-close", net, follower.mesh.selfId, 42),
  );
  assert(closed.ok, JSON.stringify(closed));
  assertEquals((await n0.mesh.status({})).relay?.circuits, 0);
});

Deno.test("a node of the previous release has no path module: it rejects path messages, so it is never asked again", async () => {
  const old = new Kernel(); // accepts no path promise, has no path module
  const reply = await old.call(
    pathMessage("relay-open", "bafynet", "bahwqcerapeer", 5, new Uint8Array(4)),
    { origin: "peer:bahwqceraother", hops: 0 },
  );
  const r = readAnswer(reply);
  assert(!r.ok, "refused");
  assert(r.reason.length > 0 && !r.reason.includes("\n"), `one line: ${r.reason}`);
});
