import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import {
  admitRecord,
  inviteFor,
  makeNet,
  memberRequest,
  revokeRecord,
  TEST_PROMISE,
  testNode,
} from "../membership/_testing_net.ts";
import { signWithWgKey } from "../wireguard/mod.ts";
import { defaultInterfaceName, KEEPALIVE_SECONDS, renderInterface } from "./render.ts";
import { foldMembers, ipv6Of, ipv6Prefix, signMemberRequest } from "../membership/mod.ts";

const BASE = { interface: "grid-t", listenPort: 51820, privateKeyFile: "/k/wg.key" };

async function threeMembers(psk = false) {
  const net = await makeNet({ psk });
  const b = await testNode();
  const c = await testNode();
  const inv = () => inviteFor(net.founder, net.net);
  const invite = await inv();
  const rb = await admitRecord(
    net.founder,
    net.net,
    await signMemberRequest(b.identity, {
      net: net.net,
      netName: "testnet",
      name: "b",
      wg: b.wg,
      endpoint: "192.0.2.2:51820",
      promise: TEST_PROMISE,
      time: 2000,
    }, {
      signWithWgKey: (m) => signWithWgKey(b.wgSecret, m),
      invite: { bytes: invite.invite.bytes, seed: invite.seed },
    }),
    "10.77.0.2",
    [net.records[1].id],
  );
  const rc = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(c, net.net, { invite: await inv(), name: "c" }),
    "10.77.0.3",
    [rb.id],
  );
  net.records.push(rb, rc);
  return { net, b, c, rc };
}

Deno.test("renderInterface() makes every other live member a peer at its /32", async () => {
  const { net, b, c } = await threeMembers();
  const set = net.set();
  const spec = renderInterface(set, { ...BASE, selfId: b.id })!;
  assertEquals(spec.addresses, ["10.77.0.2/16", `${set.members.get(b.id)!.address6}/64`]);
  assertEquals(spec.name, "grid-t");
  assertEquals(
    spec.peers.map((p) => p.allowedIps[0]).sort(),
    ["10.77.0.1/32", "10.77.0.3/32"],
  );
  const toC = spec.peers.find((p) => p.publicKey === set.members.get(c.id)!.wg)!;
  assertEquals(toC.endpoint, undefined);
  assertEquals(toC.persistentKeepalive, KEEPALIVE_SECONDS);
});

Deno.test("renderInterface() gives the interface its IPv6 /64 and routes each peer's /128", async () => {
  const { net, b, c } = await threeMembers();
  const set = net.set();
  const prefix = ipv6Prefix(net.net).replace("::/64", ":");
  const spec = renderInterface(set, { ...BASE, selfId: b.id })!;
  const own = set.members.get(b.id)!.address6;
  assertEquals(own, ipv6Of(net.net, b.id));
  assert(own.startsWith(prefix), `${own} in ${prefix}`);
  assertEquals(spec.addresses[1], `${own}/64`);
  const toC = spec.peers.find((p) => p.publicKey === set.members.get(c.id)!.wg)!;
  assertEquals(toC.allowedIps, ["10.77.0.3/32", `${ipv6Of(net.net, c.id)}/128`]);
  const toFounder = spec.peers.find((p) => p.publicKey !== toC.publicKey)!;
  assertEquals(toFounder.allowedIps[1], `${ipv6Of(net.net, net.founder.id)}/128`);
});

Deno.test("renderInterface() keeps every peer alive, with or without endpoints", async () => {
  const { net, b } = await threeMembers();
  const set = net.set();
  // The founder has no endpoint (behind NAT); B has one: both keep every peer alive, so a
  // handshake goes out the moment a peer is added.
  for (const selfId of [net.founder.id, b.id]) {
    const spec = renderInterface(set, { ...BASE, selfId })!;
    assertEquals(spec.peers.length, 2);
    assert(spec.peers.every((p) => p.persistentKeepalive === KEEPALIVE_SECONDS));
  }
});

Deno.test("renderInterface() drops a revoked member and renders nothing for a revoked self", async () => {
  const { net, c, rc } = await threeMembers();
  const revoke = await revokeRecord(net.founder, net.net, { id: c.id, admit: rc.id }, [rc.id]);
  const set = foldMembers([...net.records, revoke]);
  const spec = renderInterface(set, { ...BASE, selfId: net.founder.id })!;
  assertEquals(spec.peers.map((p) => p.allowedIps[0]), ["10.77.0.2/32"]);
  assert(!spec.peers.some((p) => p.allowedIps.includes(`${ipv6Of(net.net, c.id)}/128`)));
  assertEquals(renderInterface(set, { ...BASE, selfId: c.id }), undefined);
});

Deno.test("renderInterface() on a PSK net lists a peer only once its key file exists", async () => {
  const { net, b, c } = await threeMembers(true);
  const set = net.set();
  const spec = renderInterface(set, {
    ...BASE,
    selfId: net.founder.id,
    pskFiles: new Map([[b.id, "/k/psk/b.psk"]]),
  })!;
  assertEquals(spec.peers.length, 1);
  assertEquals(spec.peers[0].presharedKeyFile, "/k/psk/b.psk");
  assert(!JSON.stringify(spec).includes(c.id));
});

Deno.test("defaultInterfaceName() fits in 15 characters", () => {
  assertEquals(defaultInterfaceName("foo"), "grid-foo");
  assertEquals(defaultInterfaceName("a-very-long-net-name").length, 15);
});

Deno.test("renderInterface() takes a peer's endpoint from its announcement when given one", async () => {
  const { net, b } = await threeMembers();
  const set = net.set();
  const spec = renderInterface(set, {
    ...BASE,
    selfId: net.founder.id,
    endpointOf: (m) => (m.id === b.id ? "198.51.100.9:51820" : undefined),
  })!;
  const toB = spec.peers.find((p) => p.publicKey === b.wg)!;
  assertEquals(toB.endpoint, "198.51.100.9:51820");
});
