import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { hashText, homeAt, loadIdentity } from "../../kernel/mod.ts";
import { newWgPrivateKey, signWithWgKey, wgPublicKeyOf } from "../wireguard/mod.ts";
import { Nets } from "./nets.ts";
import { signMemberRequest } from "./member_request.ts";
import { admitRecord, leftRecord, memberRequest, type TestNode, testNode } from "./_testing_net.ts";
import { MembershipError } from "./errors.ts";
import { netDir, readSettings, removeNetDir } from "./net_store.ts";

const JOIN = hashText("join");

async function founded(): Promise<{ nets: Nets; root: string; founder: TestNode }> {
  const root = await Deno.makeTempDir({ prefix: "grid-nets-" });
  const home = homeAt(root);
  const identity = await loadIdentity(`${home.state}/identity`);
  const wgSecret = newWgPrivateKey();
  const founder = { identity, wgSecret, wg: wgPublicKeyOf(wgSecret), id: identity.id };
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
        wg: founder.wg,
        promise: JOIN,
        time: Date.now(),
      }, { signWithWgKey: (message) => signWithWgKey(wgSecret, message) }),
  });
  return { nets, root, founder };
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
  const { nets, root, founder } = await founded();
  try {
    const state = nets.get("testnet")!;
    const net = state.settings.net;
    const stranger = await testNode();
    const byStranger = await leftRecord(stranger, net, state.set.heads);
    const forged = byStranger.bytes.slice();
    forged[forged.length - 3] ^= 1;
    const result = await nets.ingest("testnet", [byStranger.bytes, forged, new Uint8Array([1])]);
    assertEquals(result.added.length, 0);
    assertEquals(result.refused.length, 3);
    assert(result.refused.some((r) => r.includes("not a member")));

    // An open net: the founder admits B; B's leave comes in the same batch as its admit.
    const b = await testNode();
    const admit = await admitRecord(
      founder,
      net,
      await memberRequest(b, net, { time: Date.now() }),
      "10.5.0.9",
      state.set.heads,
      Date.now(),
    );
    const bLeaves = await leftRecord(b, net, [admit.id]);
    const first = await nets.ingest("testnet", [bLeaves.bytes]);
    assertEquals(first.added.length, 0); // B is no member yet: refused, fetched again later
    const second = await nets.ingest("testnet", [bLeaves.bytes, admit.bytes]);
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

Deno.test("removeNetDir keeps only this node's key files when asked (a join whose answer never came)", async () => {
  const root = await Deno.makeTempDir({ prefix: "grid-netdir-" });
  try {
    const home = homeAt(root);
    const dir = netDir(home, "office");
    await Deno.mkdir(`${dir}/records`, { recursive: true });
    for (const f of ["wg.key", "kem.seed", "settings.json", "records/bafy1"]) {
      await Deno.writeTextFile(`${dir}/${f}`, f, { mode: 0o600 });
    }
    await removeNetDir(home, "office", { keepKeys: true });
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assertEquals(left.sort(), ["kem.seed", "wg.key"]);
    assertEquals(await Deno.readTextFile(`${dir}/wg.key`), "wg.key");
    assertEquals(await readSettings(home, "office"), undefined);
    await removeNetDir(home, "office");
    await assertRejects(() => Deno.stat(dir), Deno.errors.NotFound);
    await removeNetDir(home, "office", { keepKeys: true }); // gone already: fine
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
