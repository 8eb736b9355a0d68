import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import type { Announcement } from "./announcement.ts";
import {
  chooseNet,
  foundNets,
  FUTURE_SLACK_MS,
  MAX_SIGHTINGS,
  type Sighting,
  Sightings,
} from "./choice.ts";

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
  // Full: the oldest sighting makes room, so throwaway keys heard first cannot keep a real net out.
  for (let i = 0; i < MAX_SIGHTINGS; i++) {
    assert(seen.add(sighting(`junk${i}`, "netJ", "foo", 1, 1_000 + i)));
  }
  assert(seen.add(sighting("real", "netA", "foo", 1, 2_000)));
  const live = seen.live(2_000);
  assertEquals(live.length, MAX_SIGHTINGS);
  assert(live.some((s) => s.announcement.node === "real"));
  assert(!live.some((s) => s.announcement.node === "junk0"), "the oldest made room");
});

Deno.test("Sightings: a replay from another address changes nothing; a future-dated one is not taken", () => {
  const seen = new Sightings(10_000);
  const real = sighting("n1", "netA", "foo", 5_000, 5_000);
  assert(seen.add(real));
  // The same signed announcement (same at), heard from the attacker's address: the first stays.
  const replay = { ...real, url: "ws://10.0.0.66:7340" };
  assert(!seen.add(replay));
  assertEquals(seen.live(5_000).map((s) => s.url), [real.url]);
  // Signed ten minutes ahead of the joiner's clock: refused, the real one stays first.
  assert(!seen.add(sighting("n1", "netA", "foo", 5_000 + 600_000, 5_100)));
  assertEquals(seen.live(5_100).map((s) => s.announcement.at), [5_000]);
  assert(
    seen.add(sighting("n1", "netA", "foo", 5_000 + FUTURE_SLACK_MS, 5_100)),
    "within the slack",
  );
});
