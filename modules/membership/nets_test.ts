import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { generateIdentity, hashText, homeAt, loadIdentity } from "../../kernel/mod.ts";
import { Nets } from "./nets.ts";
import { signMemberRequest } from "./member_request.ts";
import { signRecord } from "./records.ts";
import { admitRecord, fakeWgKey, memberRequest } from "./_testing_net.ts";
import { MembershipError } from "./errors.ts";
import { readSettings } from "./net_store.ts";

const JOIN = hashText("join");

async function founded(): Promise<{ nets: Nets; root: string }> {
  const root = await Deno.makeTempDir({ prefix: "grid-nets-" });
  const home = homeAt(root);
  const identity = await loadIdentity(`${home.state}/identity`);
  const nets = new Nets({ home, identity });
  await nets.create({
    name: "testnet",
    cidr: "10.5.0.0/24",
    policy: "open",
    psk: false,
    interface: "gt",
    listenPort: 51820,
    request: (net) =>
      signMemberRequest(identity, {
        net,
        netName: "testnet",
        name: "founder",
        wg: fakeWgKey(),
        promise: JOIN,
        time: Date.now(),
      }),
  });
  return { nets, root };
}

Deno.test("a created net is on disk and loads back to the same member set", async () => {
  const { nets, root } = await founded();
  try {
    const home = homeAt(root);
    const again = new Nets({ home, identity: await loadIdentity(`${home.state}/identity`) });
    await again.load();
    const a = nets.get("testnet")!;
    const b = again.get("testnet")!;
    assertEquals(JSON.stringify(b.settings), JSON.stringify(a.settings));
    assertEquals([...b.set.members.keys()], [...a.set.members.keys()]);
    assertEquals(
      (await Deno.stat(`${root}/state/nets/testnet/settings.json`)).mode! & 0o777,
      0o600,
    );
    assertEquals((await readSettings(home, "testnet"))?.interface, "gt");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ingest() refuses forged and strangers' records and holds orphans until their parents come", async () => {
  const { nets, root } = await founded();
  try {
    const state = nets.get("testnet")!;
    const net = state.settings.net;
    const stranger = await generateIdentity();
    const byStranger = await signRecord(stranger, { kind: "left" }, {
      net,
      parents: state.set.heads,
    });
    const forged = byStranger.bytes.slice();
    forged[forged.length - 3] ^= 1;
    const result = await nets.ingest("testnet", [byStranger.bytes, forged, new Uint8Array([1])]);
    assertEquals(result.added.length, 0);
    assertEquals(result.refused.length, 3);
    assert(result.refused.some((r) => r.includes("not a member")));

    // An open net: the founder admits B; B's own record arrives before B's admit.
    const b = await generateIdentity();
    const admit = await admitRecord(
      await loadIdentity(`${root}/state/identity`),
      net,
      await memberRequest(b, net, {}),
      "10.5.0.9",
      state.set.heads,
    );
    const bLeaves = await signRecord(b, { kind: "left" }, { net, parents: [admit.id] });
    const first = await nets.ingest("testnet", [bLeaves.bytes]);
    assertEquals([first.added.length, first.missing], [0, [admit.id]]);
    const second = await nets.ingest("testnet", [admit.bytes]);
    assertEquals(second.added.map((r) => r.kind), ["admit", "left"]);
    assertEquals(state.set.status.get(b.id), "left");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("create() refuses a second net of the same name and a bad CIDR", async () => {
  const { nets, root } = await founded();
  try {
    const base = {
      cidr: "10.6.0.0/24",
      policy: "invite" as const,
      psk: false,
      interface: "gx",
      listenPort: 1,
      request: () => Promise.reject(new Error("not reached")),
    };
    await assertRejects(
      () => nets.create({ ...base, name: "testnet" }),
      MembershipError,
      "already exists",
    );
    await assertRejects(
      () => nets.create({ ...base, name: "other", cidr: "10.6.0.1/24" }),
      MembershipError,
      "network address",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
