import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import {
  definePromise,
  hashText,
  homeAt,
  Kernel,
  loadIdentity,
  readAnswer,
} from "../../kernel/mod.ts";
import { newWgPrivateKey, signWithWgKey, wgPublicKeyOf } from "../wireguard/mod.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import { Nets, type NetState } from "./nets.ts";
import type { NetPolicy } from "./records.ts";
import { signMemberRequest } from "./member_request.ts";
import { signAnnouncement } from "./announcements.ts";
import { FakeWire } from "./_testing_peers.ts";
import { inviteFor, memberRequest, TEST_PROMISE, type TestNode } from "./_testing_net.ts";
import {
  announceMessage,
  joinMessage,
  LEGACY_MEMBERSHIP_MODULE,
  LEGACY_PROMISES,
  MAX_RECORDS_PER_MESSAGE,
  MEMBERSHIP_PROMISES,
  pushMessage,
  syncMessage,
} from "./protocol.ts";

const JOIN = TEST_PROMISE;

async function node(
  wire: FakeWire,
  name: string,
  limits: { pageSize?: number; maxReplyRecords?: number; peerRate?: number } = {},
) {
  const root = await Deno.makeTempDir({ prefix: `grid-ae-${name}-` });
  const home = homeAt(root);
  const identity = await loadIdentity(`${home.state}/identity`);
  const kernel = new Kernel({ promises: [...MEMBERSHIP_PROMISES, ...LEGACY_PROMISES] });
  const peers = wire.add(identity.id, `ws://${name}/`, kernel);
  const nets = new Nets({ home, identity });
  const sync = new AntiEntropy({ nets, peers, joinPromise: JOIN.toString(), ...limits });
  for (const m of sync.modules()) kernel.register(m);
  const wgSecret = newWgPrivateKey();
  const self: TestNode = { identity, wgSecret, wg: wgPublicKeyOf(wgSecret), id: identity.id };
  return { root, identity, peers, nets, sync, self, kernel };
}
type Node = Awaited<ReturnType<typeof node>>;

/** Founds net "testnet" (10.7.0.0/24) with node `a` as its only member. */
function founded(a: Node, policy: NetPolicy): Promise<NetState> {
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
        wg: a.self.wg,
        promise: JOIN,
        time: Date.now(),
      }, { signWithWgKey: (m) => signWithWgKey(a.self.wgSecret, m) }),
  });
}

/** `who` joins through `admin` (directly, in memory) and adopts the net's records. */
async function admitted(admin: Node, who: Node, state: NetState, iface: string): Promise<void> {
  const invite = await inviteFor(admin.self, state.settings.net, { now: Date.now() });
  const req = await memberRequest(who.self, state.settings.net, { invite, time: Date.now() });
  const { records } = await admin.nets.admit(req.bytes, { joinPromise: JOIN.toString() });
  await who.nets.adopt({ ...state.settings, interface: iface }, records);
}

async function cleanup(...nodes: Node[]): Promise<void> {
  for (const n of nodes) await Deno.remove(n.root, { recursive: true });
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
    await cleanup(a, outsider);
  }
});

Deno.test("a push over the per-message bound is refused whole", async () => {
  const wire = new FakeWire();
  const a = await node(wire, "a");
  try {
    const state = await founded(a, "open");
    const tooMany = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 1 }, () => new Uint8Array(1));
    // As if from the node itself over a link (it is a live member of its own net).
    const reply = readAnswer(
      await a.kernel.call(pushMessage(state.settings.net, tooMany), {
        origin: `peer:${a.identity.id}`,
      }),
    );
    assert(!reply.ok && reply.code === "codec");
  } finally {
    await cleanup(a);
  }
});

Deno.test("summaries go in pages: a late revoke beyond the first page still reaches the others", async (t) => {
  // Pages of 4 hashes and replies of 4 records stand in for 8192 and 512: the
  // revoke is newer than every record in the first page.
  const limits = { pageSize: 4, maxReplyRecords: 4 };
  const wire = new FakeWire();
  const [a, b, c, v] = await Promise.all(["a", "b", "c", "v"].map((n) => node(wire, n, limits)));
  try {
    const state = await founded(a, "open");
    const name = "testnet";
    for (const who of [b, c, v]) {
      const request = await memberRequest(who.self, state.settings.net, { time: Date.now() });
      await a.nets.admit(request.bytes, { joinPromise: JOIN.toString() });
    }
    for (let i = 0; i < 16; i++) {
      const extra = await node(wire, `e${i}`);
      const request = await memberRequest(extra.self, state.settings.net, { time: Date.now() });
      await a.nets.admit(request.bytes, { joinPromise: JOIN.toString() });
      await cleanup(extra);
    }
    for (const [who, iface] of [[b, "gb"], [c, "gc"]] as const) {
      await who.nets.adopt({ ...state.settings, interface: iface }, a.nets.recordsInOrder(name));
    }
    // Only a holds the revoke: the syncs are not started, so nothing pushes it.
    const vm = state.set.members.get(v.identity.id)!;
    await a.nets.append(name, { kind: "revoked", member: vm.id, admit: vm.admit });
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
    await cleanup(a, b, c, v);
  }
});

Deno.test("a join sent to a plain member is passed on to the admin the invite names", async () => {
  const wire = new FakeWire();
  const [a, m, j] = await Promise.all(["a", "m", "j"].map((n) => node(wire, n)));
  try {
    const state = await founded(a, "invite");
    await admitted(a, m, state, "gm");
    wire.link(a.identity.id, m.identity.id);
    wire.link(m.identity.id, j.identity.id); // the joiner reaches only the plain member
    const invite = await inviteFor(m.self, state.settings.net, { admin: a.self, now: Date.now() });
    const req = await memberRequest(j.self, state.settings.net, { invite, time: Date.now() });
    const reply = readAnswer(await j.peers.request(m.identity.id, joinMessage(req.bytes)));
    assert(reply.ok, JSON.stringify(reply));
    assertEquals(state.set.status.get(j.identity.id), "live");
    assertEquals(state.set.members.get(j.identity.id)!.admittedBy, a.identity.id);
  } finally {
    await cleanup(a, m, j);
  }
});

Deno.test("a revoked member is cut off: it gets its revoke and nothing after it", async () => {
  const wire = new FakeWire();
  const [a, b, v, j] = await Promise.all(["a", "b", "v", "j"].map((n) => node(wire, n)));
  try {
    const state = await founded(a, "open");
    await admitted(a, b, state, "gb");
    await admitted(a, v, state, "gv");
    for (const x of [b, v]) wire.link(a.identity.id, x.identity.id);
    wire.link(b.identity.id, v.identity.id);
    a.sync.start(new AbortController().signal);
    const vm = state.set.members.get(v.identity.id)!;
    await a.nets.append("testnet", { kind: "revoked", member: vm.id, admit: vm.admit });
    await new Promise((r) => setTimeout(r, 50));
    const vState = v.nets.get("testnet")!;
    assertEquals(vState.settings.revoked?.by, a.identity.id);
    const before = new Set(vState.records.keys());
    // Someone joins after the revoke; every push and sync goes to live members only.
    await admitted(a, j, state, "gj");
    await new Promise((r) => setTimeout(r, 50));
    await a.sync.round();
    await b.sync.round();
    const jAdmit = state.set.members.get(j.identity.id)!.admit;
    assert(!v.nets.get("testnet")!.records.has(jAdmit), "the revoked node saw the join");
    assertEquals(new Set(v.nets.get("testnet")!.records.keys()), before);
    const asked = readAnswer(
      await v.peers.request(a.identity.id, syncMessage(state.settings.net, [])),
    );
    assert(!asked.ok && asked.reason.includes("not a live member"));
  } finally {
    await cleanup(a, b, v, j);
  }
});

Deno.test("announcements: the latest wins, one slot per member however many are sent", async () => {
  const wire = new FakeWire();
  const [a, b] = await Promise.all(["a", "b"].map((n) => node(wire, n, { peerRate: 1000 })));
  try {
    const state = await founded(a, "open");
    await admitted(a, b, state, "gb");
    wire.link(a.identity.id, b.identity.id);
    const net = state.settings.net;
    let last = "";
    for (let i = 0; i < 300; i++) {
      const ann = await signAnnouncement(b.identity, net, 1_000_000 + i, {
        endpoint: `10.9.${i >> 8}.${i & 255}:51820`,
      });
      last = ann.endpoint!;
      const reply = readAnswer(
        await b.peers.request(a.identity.id, announceMessage(net, [ann.bytes])),
      );
      assert(reply.ok);
    }
    assertEquals(state.announcements.size, 1);
    assertEquals(state.announcements.get(b.identity.id)?.endpoint, last);
    // An older one does not replace it; a non-member's is not kept.
    const old = await signAnnouncement(b.identity, net, 5, { endpoint: "10.0.0.9:1" });
    await b.peers.request(a.identity.id, announceMessage(net, [old.bytes]));
    assertEquals(state.announcements.get(b.identity.id)?.endpoint, last);
  } finally {
    await cleanup(a, b);
  }
});

Deno.test("a peer that floods membership requests is told to slow down, and served again later", async () => {
  const wire = new FakeWire();
  const [a, b] = await Promise.all(["a", "b"].map((n) => node(wire, n, { peerRate: 5 })));
  try {
    const state = await founded(a, "open");
    await admitted(a, b, state, "gb");
    wire.link(a.identity.id, b.identity.id);
    const replies = await Promise.all(
      Array.from(
        { length: 40 },
        () => b.peers.request(a.identity.id, syncMessage(state.settings.net, [])),
      ),
    );
    const busy = replies.map(readAnswer).filter((r) => !r.ok && r.reason.includes("slow down"));
    assert(busy.length >= 15, `only ${busy.length} of 40 refused`);
    await new Promise((r) => setTimeout(r, 400));
    assert(
      readAnswer(await b.peers.request(a.identity.id, syncMessage(state.settings.net, []))).ok,
    );
  } finally {
    await cleanup(a, b);
  }
});

Deno.test("a grid 0.1 node's join gets one line naming both protocol versions", async () => {
  const wire = new FakeWire();
  const [a, old] = await Promise.all(["a", "old"].map((n) => node(wire, n)));
  try {
    await founded(a, "open");
    wire.link(a.identity.id, old.identity.id);
    const v1Join = LEGACY_PROMISES[1];
    assertEquals(v1Join.cid.equals(definePromise({ text: v1Join.text }).cid), true);
    const reply = readAnswer(
      await old.peers.request(a.identity.id, [
        v1Join.cid,
        LEGACY_MEMBERSHIP_MODULE,
        "join",
        new Uint8Array(8),
      ]),
    );
    assert(!reply.ok);
    assertEquals(reply.code, "membership");
    assert(reply.reason.includes("version 2") && reply.reason.includes("version 1"), reply.reason);
    assert(hashText(v1Join.text).equals(v1Join.cid));
  } finally {
    await cleanup(a, old);
  }
});

Deno.test("a round between members that agree is two small messages; one that differs syncs in full", async () => {
  const wire = new FakeWire();
  const a = await node(wire, "a");
  const b = await node(wire, "b");
  try {
    const state = await founded(a, "invite");
    await admitted(a, b, state, "gb");
    wire.link(a.identity.id, b.identity.id);
    const bState = b.nets.get("testnet")!;
    await b.sync.syncWith(bState, a.identity.id); // b catches up on whatever it lacks
    const before = wire.captured.length;
    await b.sync.syncWith(bState, a.identity.id);
    const round = wire.captured.slice(before);
    assertEquals(round.length, 2, "one check and its answer");
    assert(round.every((m) => m.length < 300), `small: ${round.map((m) => m.length)}`);
    assertEquals(b.sync.agreement(bState, a.identity.id)?.records, "same");
    // a records one more thing: b's next round sees the difference and takes it.
    await a.nets.append("testnet", { kind: "left" });
    await b.sync.syncWith(bState, a.identity.id);
    assertEquals(bState.records.size, state.records.size);
  } finally {
    await cleanup(a, b);
  }
});
