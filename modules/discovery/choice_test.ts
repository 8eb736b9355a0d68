import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import type { Announcement } from "./announcement.ts";
import { chooseNet, foundNets, MAX_SIGHTINGS, type Sighting, Sightings } from "./choice.ts";

function sighting(node: string, net: string, name = "foo", at = 1, seenAt = 1_000): Sighting {
  const announcement: Announcement = {
    node,
    key: new Uint8Array(32),
    net,
    name,
    founder: `founder-of-${net}`,
    members: node.length,
    url: `ws://${node}:7340`,
    port: 7340,
    at,
  };
  return { announcement, url: announcement.url, seenAt };
}

Deno.test("foundNets groups announcements by net id and leaves out other names and this node", () => {
  const nets = foundNets(
    [
      sighting("n1", "netA"),
      sighting("n22", "netA", "foo", 5),
      sighting("n3", "netB"),
      sighting("n4", "netC", "bar"),
      sighting("me", "netD"),
    ],
    "foo",
    "me",
  );
  assertEquals(nets.map((n) => n.net), ["netA", "netB"]);
  assertEquals(nets[0].urls, ["ws://n22:7340", "ws://n1:7340"]); // newest first
  assertEquals(nets[0].members, 3);
  assertEquals(nets[0].founder, "founder-of-netA");
});

Deno.test("chooseNet: one, several, --net, none", async (t) => {
  const [a, b] = foundNets([sighting("n1", "netA"), sighting("n2", "netB")], "foo");
  await t.step("one net: join it", () => {
    assertEquals(chooseNet([a]), { kind: "one", net: a });
  });
  await t.step("several nets: the user chooses", () => {
    assertEquals(chooseNet([a, b]), { kind: "several", nets: [a, b] });
  });
  await t.step("--net picks one of several", () => {
    assertEquals(chooseNet([a, b], "netB"), { kind: "one", net: b });
  });
  await t.step("--net naming none of them", () => {
    assertEquals(chooseNet([a, b], "netZ"), { kind: "no-such-id", nets: [a, b] });
  });
  await t.step("none heard", () => {
    assertEquals(chooseNet([]), { kind: "none" });
  });
});

Deno.test("Sightings: stale entries expire, a newer one replaces an older, the table is bounded", () => {
  const seen = new Sightings(10_000);
  seen.add(sighting("n1", "netA", "foo", 1, 1_000));
  seen.add(sighting("n1", "netA", "foo", 2, 2_000));
  seen.add(sighting("n1", "netA", "foo", 1, 3_000)); // older announcement heard late: kept out
  assertEquals(seen.live(3_000).map((s) => s.announcement.at), [2]);
  assertEquals(seen.live(12_001), []);
  for (let i = 0; i < MAX_SIGHTINGS; i++) assert(seen.add(sighting(`n${i}`, "netA")));
  assert(!seen.add(sighting("one-too-many", "netA")));
  assertEquals(seen.live(1_000).length, MAX_SIGHTINGS);
});
