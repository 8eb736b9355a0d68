import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { hashText, homeAt, Kernel, loadIdentity, readAnswer } from "../../kernel/mod.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import { Nets, type NetState } from "./nets.ts";
import type { NetPolicy } from "./records.ts";
import { signMemberRequest } from "./member_request.ts";
import { FakeWire } from "./_testing_peers.ts";
import { fakeWgKey, memberRequest, TEST_PROMISE } from "./_testing_net.ts";
import { signRecord } from "./records.ts";
import {
  MAX_RECORDS_PER_MESSAGE,
  MEMBERSHIP_PROMISES,
  pushMessage,
  syncMessage,
} from "./protocol.ts";

const JOIN = hashText("join");

async function node(
  wire: FakeWire,
  name: string,
  limits: { pageSize?: number; maxReplyRecords?: number } = {},
) {
  const root = await Deno.makeTempDir({ prefix: `grid-ae-${name}-` });
  const home = homeAt(root);
  const identity = await loadIdentity(`${home.state}/identity`);
  const kernel = new Kernel({ promises: MEMBERSHIP_PROMISES });
  const peers = wire.add(identity.id, `ws://${name}/`, kernel);
  const nets = new Nets({ home, identity });
  const sync = new AntiEntropy({ nets, peers, joinPromise: JOIN.toString(), ...limits });
  kernel.register(sync.module());
  return { root, identity, peers, nets, sync };
}

/** Founds net "testnet" (10.7.0.0/24) with node `a` as its only member. */
function founded(a: Awaited<ReturnType<typeof node>>, policy: NetPolicy): Promise<NetState> {
  return a.nets.create({
    name: "testnet",
    cidr: "10.7.0.0/24",
    policy,
    psk: false,
    interface: "ga",
    listenPort: 1,
    request: (net) =>
      signMemberRequest(a.identity, {
        net,
        netName: "testnet",
        name: "a",
        wg: fakeWgKey(),
        promise: JOIN,
        time: 1,
      }),
  });
}

Deno.test("a node that is not a member gets no records and cannot push any", async () => {
  const wire = new FakeWire();
  const a = await node(wire, "a");
  const outsider = await node(wire, "x");
  try {
    const state = await founded(a, "invite");
    wire.link(a.identity.id, outsider.identity.id);
    const asked = readAnswer(
      await outsider.peers.request(a.identity.id, syncMessage(state.settings.net, [])),
    );
    assertEquals(asked.ok, false);
    assert(!asked.ok && asked.code === "denied" && asked.reason.includes("not a live member"));
    const pushed = readAnswer(
      await outsider.peers.request(a.identity.id, pushMessage(state.settings.net, [])),
    );
    assertEquals(pushed.ok, false);
    // Nothing of the net crossed the wire to the outsider.
    const wireHex = wire.captured.map((b) => b.toHex()).join("");
    assert(![...state.records.values()].some((r) => wireHex.includes(r.bytes.toHex())));
  } finally {
    await Deno.remove(a.root, { recursive: true });
    await Deno.remove(outsider.root, { recursive: true });
  }
});

Deno.test("a push over the per-message bound is refused whole", async () => {
  const wire = new FakeWire();
  const a = await node(wire, "a");
  try {
    const state = await founded(a, "open");
    const kernelOf = wire.nodes.get(a.identity.id)!.kernel;
    const tooMany = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 1 }, () => new Uint8Array(1));
    // As if from the node itself over a link (it is a live member of its own net).
    const reply = readAnswer(
      await kernelOf.call(pushMessage(state.settings.net, tooMany), {
        origin: `peer:${a.identity.id}`,
      }),
    );
    assert(!reply.ok && reply.code === "codec");
  } finally {
    await Deno.remove(a.root, { recursive: true });
  }
});

Deno.test("summaries go in pages: a late revoke beyond the first page still reaches the others", async (t) => {
  // Pages of 4 hashes and replies of 4 records stand in for 8192 and 512 (a
  // net of 24k records): the revoke is newer than every record in the first page.
  const limits = { pageSize: 4, maxReplyRecords: 4 };
  const wire = new FakeWire();
  const [a, b, c, v] = await Promise.all(["a", "b", "c", "v"].map((n) => node(wire, n, limits)));
  try {
    const state = await founded(a, "open");
    const name = "testnet";
    const net = state.settings.net;
    for (const who of [b, c, v]) {
      const request = await memberRequest(who.identity, net, { time: Date.now() });
      await a.nets.admit(request.bytes, { joinPromise: TEST_PROMISE.toString() });
    }
    for (let i = 0; i < 20; i++) {
      await a.nets.append(name, { kind: "endpoint", endpoint: `10.0.0.1:${1000 + i}` });
    }
    for (const [who, iface] of [[b, "gb"], [c, "gc"]] as const) {
      await who.nets.adopt({ ...state.settings, interface: iface }, a.nets.recordsInOrder(name));
    }
    // Only a holds the revoke: the syncs are not started, so nothing pushes it.
    await a.nets.append(name, { kind: "revoked", member: v.identity.id });
    assert(a.nets.get(name)!.records.size > 20);
    wire.link(a.identity.id, b.identity.id);
    wire.link(a.identity.id, c.identity.id);
    await t.step("the holder's summary pages make the other side ask for it", async () => {
      await a.sync.syncWith(a.nets.get(name)!, b.identity.id);
      assertEquals(b.nets.get(name)!.set.status.get(v.identity.id), "revoked");
    });
    await t.step("the other side's summary pages pull it in bounded replies", async () => {
      await c.sync.syncWith(c.nets.get(name)!, a.identity.id);
      assertEquals(c.nets.get(name)!.set.status.get(v.identity.id), "revoked");
    });
  } finally {
    for (const n of [a, b, c, v]) await Deno.remove(n.root, { recursive: true });
  }
});

Deno.test("a net past one summary page (8192 hashes): a late revoke still reaches a member", async () => {
  const wire = new FakeWire();
  const [a, b, v] = await Promise.all(["a", "b", "v"].map((n) => node(wire, n)));
  try {
    const state = await founded(a, "open");
    const name = "testnet";
    const net = state.settings.net;
    for (const who of [b, v]) {
      const request = await memberRequest(who.identity, net, { time: Date.now() });
      await a.nets.admit(request.bytes, { joinPromise: TEST_PROMISE.toString() });
    }
    // 8300 endpoint changes in a chain, signed in memory and taken in at once.
    const chain: Uint8Array[] = [];
    let parents = a.nets.get(name)!.set.heads;
    for (let i = 0; i < 8300; i++) {
      const r = await signRecord(a.identity, {
        kind: "endpoint",
        endpoint: `10.0.${i >> 8}.${i & 255}:51820`,
      }, { net, parents, time: 10_000 + i });
      chain.push(r.bytes);
      parents = [r.id];
    }
    await a.nets.ingest(name, chain, { store: false });
    const start = a.nets.recordsInOrder(name).filter((bytes) => !chain.includes(bytes));
    await b.nets.adopt({ ...state.settings, interface: "gb" }, start);
    await b.nets.ingest(name, chain, { store: false });
    await a.nets.append(name, { kind: "revoked", member: v.identity.id }); // a holds it alone
    assert(a.nets.get(name)!.records.size > 8192);
    wire.link(a.identity.id, b.identity.id);
    await a.sync.syncWith(a.nets.get(name)!, b.identity.id);
    assertEquals(b.nets.get(name)!.set.status.get(v.identity.id), "revoked");
  } finally {
    for (const n of [a, b, v]) await Deno.remove(n.root, { recursive: true });
  }
});
