import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import {
  AnnouncementBook,
  foldMembers,
  type NetState,
  type Observation,
  signAnnouncement,
} from "../membership/mod.ts";
import { admitNew, makeNet, type TestNode } from "../membership/_testing_net.ts";
import type { WgDump } from "../wireguard/mod.ts";
import { candidatesFor, isReachableEndpoint, observePeers, splitEndpoint } from "./candidates.ts";

const NOW = 1_800_000_000_000;

/** A net of a founder and four more members, as one node's state. */
async function fiveMembers(): Promise<{ state: NetState; nodes: TestNode[] }> {
  const net = await makeNet();
  const nodes = [net.founder];
  for (let i = 2; i <= 5; i++) {
    const { node, record } = await admitNew(net, { address: `10.77.0.${i}` });
    net.records.push(record);
    nodes.push(node);
  }
  const state: NetState = {
    settings: { name: "t", net: net.net, interface: "grid-t", listenPort: 51820 },
    records: new Map(net.records.map((r) => [r.id, r])),
    pending: new Map(),
    set: foldMembers(net.records),
    announcements: new AnnouncementBook(),
  };
  return { state, nodes };
}

async function announce(
  state: NetState,
  by: TestNode,
  fields: { endpoint?: string; observed?: Observation[] },
): Promise<void> {
  const a = await signAnnouncement(by.identity, state.settings.net, NOW, fields);
  assertEquals(state.announcements.offer(a, () => true, NOW), "kept");
}

Deno.test("isReachableEndpoint() takes IP literals a peer could send to, nothing that aims back home", () => {
  for (
    const ok of ["198.51.100.7:51820", "10.1.0.2:1", "[2001:db8::1]:51820", "[::ffff:c633:6407]:1"]
  ) {
    assert(isReachableEndpoint(ok), ok);
  }
  for (
    const bad of [
      "127.0.0.1:51820",
      "0.0.0.0:51820",
      "224.0.0.1:51820",
      "255.255.255.255:51820",
      "[::1]:51820",
      "[::]:51820",
      "[ff02::1]:51820",
      "example.com:51820",
      "198.51.100.7",
      "198.51.100.7:0",
      "198.51.100.7:70000",
      "[2001:db8::1:51820",
      "[0:0:0:0:0:0:0:1]:51820",
      "[::0]:51820",
      "[::ffff:7f00:1]:51820",
      "[::ffff:127.0.0.1]:51820",
      "[fe80::1]:51820",
      "169.254.169.254:80",
    ]
  ) {
    assert(!isReachableEndpoint(bad), bad);
  }
  assertEquals(splitEndpoint("[2001:db8::1]:7"), { host: "2001:db8::1", port: 7 });
});

Deno.test("observePeers() reports fresh WireGuard endpoints that differ from what the peer announced", async () => {
  const { state, nodes } = await fiveMembers();
  const [me, pub, natted, stale, relayed] = nodes;
  await announce(state, pub, { endpoint: "192.0.2.2:51820" });
  await announce(state, natted, { endpoint: "10.3.0.2:51820" }); // its own LAN address
  const s = Math.floor(NOW / 1000);
  const dump: WgDump = {
    device: { listenPort: 51820 },
    peers: [
      { publicKey: pub.wg, endpoint: "192.0.2.2:51820", latestHandshake: s - 10 }, // as announced
      { publicKey: natted.wg, endpoint: "198.51.100.3:40001", latestHandshake: s - 10 },
      { publicKey: stale.wg, endpoint: "198.51.100.4:51820", latestHandshake: s - 600 },
      { publicKey: relayed.wg, endpoint: "127.0.0.1:39000", latestHandshake: s - 5 },
    ].map((p) => ({ ...p, allowedIps: [], rxBytes: 1, txBytes: 1 })),
  };
  const seen = observePeers(state, me.id, dump, s);
  assertEquals(seen, [{ member: natted.id, endpoint: "198.51.100.3:40001" }]);
  // A member on a grid link with no fresh session: its link's address with its WireGuard port.
  await announce(state, stale, { endpoint: "10.4.0.2:51820" });
  const linked = observePeers(
    state,
    me.id,
    dump,
    s,
    (id) => (id === stale.id ? "198.51.100.4" : undefined),
  );
  assertEquals(
    linked.find((o) => o.member === stale.id),
    { member: stale.id, endpoint: "198.51.100.4:51820", via: "link" },
  );
});

Deno.test("candidatesFor() ranks what most observers saw first, then link guesses; else the announced endpoint", async () => {
  const { state, nodes } = await fiveMembers();
  const [, o1, o2, o3, target] = nodes;
  await announce(state, target, { endpoint: "10.5.0.2:51820" });
  assertEquals(candidatesFor(state, target.id), { endpoints: ["10.5.0.2:51820"], nat: "unknown" });
  await announce(state, o1, { observed: [{ member: target.id, endpoint: "198.51.100.5:51820" }] });
  assertEquals(candidatesFor(state, target.id).nat, "unknown", "one observer cannot tell");
  await announce(state, o2, { observed: [{ member: target.id, endpoint: "198.51.100.5:51820" }] });
  await announce(state, o3, {
    observed: [{ member: target.id, endpoint: "198.51.100.9:51820", via: "link" }],
  });
  const c = candidatesFor(state, target.id, ["203.0.113.1:51820", "127.0.0.1:1"]);
  assertEquals(c.endpoints, ["203.0.113.1:51820", "198.51.100.5:51820", "198.51.100.9:51820"]);
  assertEquals(c.nat, "cone");
});

Deno.test("candidatesFor() calls a NAT symmetric when two observers saw one host with different ports", async () => {
  const { state, nodes } = await fiveMembers();
  const [, o1, o2, , target] = nodes;
  await announce(state, o1, { observed: [{ member: target.id, endpoint: "198.51.100.5:56945" }] });
  await announce(state, o2, { observed: [{ member: target.id, endpoint: "198.51.100.5:8544" }] });
  assertEquals(candidatesFor(state, target.id).nat, "symmetric");
});

Deno.test("candidatesFor() ignores what a member says of itself and observations of others", async () => {
  const { state, nodes } = await fiveMembers();
  const [, o1, , , target] = nodes;
  await announce(state, target, {
    endpoint: "10.5.0.2:51820",
    observed: [{ member: target.id, endpoint: "198.51.100.66:1" }],
  });
  await announce(state, o1, { observed: [{ member: nodes[2].id, endpoint: "198.51.100.2:1" }] });
  assertEquals(candidatesFor(state, target.id).endpoints, ["10.5.0.2:51820"]);
});
