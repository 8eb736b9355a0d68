import { assert, assertEquals } from "../../kernel/_assert_test.ts";
import { hashText, homeAt, Kernel, loadIdentity } from "../../kernel/mod.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import { Nets, type NetState } from "./nets.ts";
import type { NetPolicy } from "./records.ts";
import { signMemberRequest } from "./member_request.ts";
import { FakeWire } from "./_fake_peers.ts";
import { fakeWgKey } from "./_test_net.ts";
import {
  MAX_RECORDS_PER_MESSAGE,
  MEMBERSHIP_PROMISES,
  pushMessage,
  readAnswer,
  syncMessage,
} from "./protocol.ts";

const JOIN = hashText("join");

async function node(wire: FakeWire, name: string) {
  const root = await Deno.makeTempDir({ prefix: `grid-ae-${name}-` });
  const home = homeAt(root);
  const identity = await loadIdentity(`${home.state}/identity`);
  const kernel = new Kernel({ promises: MEMBERSHIP_PROMISES });
  const peers = wire.add(identity.id, `ws://${name}/`, kernel);
  const nets = new Nets({ home, identity });
  const sync = new AntiEntropy({ nets, peers, joinPromise: JOIN.toString() });
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
