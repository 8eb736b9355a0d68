import dgram from "node:dgram";
import { assertEquals } from "../../kernel/_testing_assert.ts";
import { generateIdentity } from "../../kernel/mod.ts";
import { askLan, LanAnnouncer, subnetBroadcasts } from "./lan.ts";
import { chooseNet, foundNets } from "./choice.ts";
import { askDatagram } from "./announcement.ts";

Deno.test("an announcer answers a question for its open net; the asker verifies and chooses it", async () => {
  const me = await generateIdentity();
  const stop = new AbortController();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  await LanAnnouncer.start({
    identity: me,
    nets: () => [
      { net: "bafynet1", name: "foo", founder: me.id, members: 1, url: "", port: 7340 },
      { net: "bafynet2", name: "bar", founder: me.id, members: 2, url: "", port: 7340 },
    ],
    log: () => {},
    signal: stop.signal,
    port,
    broadcast: "127.0.0.1",
    intervalMs: 60_000,
  });
  try {
    const heard = await askLan("foo", { timeoutMs: 600, port, broadcast: "127.0.0.1" });
    const choice = chooseNet(foundNets(heard, "foo"));
    assertEquals(choice.kind, "one");
    if (choice.kind === "one") {
      assertEquals(choice.net.net, "bafynet1");
      assertEquals(choice.net.urls, ["ws://127.0.0.1:7340"]);
    }
    // This node's own announcements are left out.
    assertEquals(foundNets(heard, "foo", me.id), []);
  } finally {
    stop.abort();
  }
});

Deno.test("subnetBroadcasts: each subnet's broadcast address; loopback and WireGuard have none", () => {
  const inet = (local: string, prefixlen: number, broadcast?: string) => ({
    family: "inet",
    local,
    prefixlen,
    ...(broadcast ? { broadcast } : {}),
  });
  const links = [
    { ifname: "lo", flags: ["LOOPBACK", "UP"], addr_info: [inet("127.0.0.1", 8)] },
    {
      ifname: "eth0",
      flags: ["BROADCAST", "MULTICAST", "UP"],
      addr_info: [inet("192.0.2.2", 24, "192.0.2.255"), inet("192.168.1.2", 16)],
    },
    {
      ifname: "grid-foo",
      flags: ["POINTOPOINT", "NOARP", "UP"],
      addr_info: [inet("10.91.0.1", 24)],
    },
    { ifname: "br1", flags: ["BROADCAST"], addr_info: [inet("198.51.100.1", 32)] },
  ];
  assertEquals(subnetBroadcasts(JSON.stringify(links)), ["192.0.2.255", "192.168.255.255"]);
  assertEquals(subnetBroadcasts(""), []);
  assertEquals(subnetBroadcasts("{}"), []);
});

Deno.test("a flood of questions for names the announcer does not hold does not silence its answers", async () => {
  const me = await generateIdentity();
  const stop = new AbortController();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  await LanAnnouncer.start({
    identity: me,
    nets: () => [{ net: "bafynet1", name: "foo", founder: me.id, members: 1, url: "", port: 7340 }],
    log: () => {},
    signal: stop.signal,
    port,
    broadcast: "127.0.0.1",
    intervalMs: 60_000,
  });
  // Junk questions from this host every 10 ms: the same source address as the real asker.
  const junk = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => junk.bind(0, "127.0.0.1", () => resolve()));
  const flood = setInterval(() => junk.send(askDatagram("zzz"), port, "127.0.0.1"), 10);
  try {
    await new Promise((r) => setTimeout(r, 200));
    const heard = await askLan("foo", { timeoutMs: 800, port, broadcast: "127.0.0.1" });
    assertEquals(chooseNet(foundNets(heard, "foo")).kind, "one");
  } finally {
    clearInterval(flood);
    junk.close();
    stop.abort();
  }
});
