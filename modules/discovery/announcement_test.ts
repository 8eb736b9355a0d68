import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { generateIdentity } from "../../kernel/mod.ts";
import {
  type AnnouncementFacts,
  askDatagram,
  dialUrl,
  MAX_DATAGRAM,
  MAX_SKEW_MS,
  readAnnouncement,
  readAsk,
  signAnnouncement,
} from "./announcement.ts";

const FACTS: AnnouncementFacts = {
  net: "bafynet1",
  name: "foo",
  founder: "bahwqcerafounder",
  members: 3,
  url: "ws://192.0.2.1:7340",
  port: 7340,
};

Deno.test("an announcement signed by a node reads back with that node's id", async () => {
  const me = await generateIdentity();
  const bytes = await signAnnouncement(me, FACTS, 1_000_000);
  assert(bytes.length <= MAX_DATAGRAM);
  const a = await readAnnouncement(bytes, 1_000_000);
  assert(a);
  assertEquals(a.node, me.id);
  assertEquals(
    { net: a.net, name: a.name, founder: a.founder, members: a.members, url: a.url, port: a.port },
    FACTS,
  );
});

Deno.test("a tampered announcement is refused", async (t) => {
  const me = await generateIdentity();
  const other = await generateIdentity();
  const text = new TextDecoder().decode(await signAnnouncement(me, FACTS, 1_000));
  const rows: [string, string][] = [
    ["another URL", text.replace("192.0.2.1", "203.0.113.9")],
    ["more members", text.replace('"members":3', '"members":4')],
    ["another key", text.replace(/"key":"[0-9a-f]+"/, `"key":"${other.publicKey.toHex()}"`)],
    ["a cut signature", text.slice(0, -2)],
    ["no signature", text.slice(0, text.lastIndexOf("\n"))],
    ["not JSON", text.replace("{", "[")],
  ];
  for (const [what, forged] of rows) {
    await t.step(what, async () => {
      assertEquals(await readAnnouncement(new TextEncoder().encode(forged), 1_000), undefined);
    });
  }
});

Deno.test("an announcement signed too long ago or ahead is refused (stale)", async () => {
  const me = await generateIdentity();
  const bytes = await signAnnouncement(me, FACTS, 10_000_000);
  assert(await readAnnouncement(bytes, 10_000_000 + MAX_SKEW_MS));
  assertEquals(await readAnnouncement(bytes, 10_000_000 + MAX_SKEW_MS + 1), undefined);
  assertEquals(await readAnnouncement(bytes, 10_000_000 - MAX_SKEW_MS - 1), undefined);
});

Deno.test("announcements are bounded: too large to sign, too large or malformed to read", async () => {
  const me = await generateIdentity();
  await assertRejects(
    () => signAnnouncement(me, { ...FACTS, url: `ws://${"a".repeat(1200)}:7340` }),
    RangeError,
  );
  assertEquals(await readAnnouncement(new Uint8Array(MAX_DATAGRAM + 1)), undefined);
  assertEquals(await readAnnouncement(new Uint8Array([0xff, 0xfe, 0x00])), undefined);
  const badName = await signAnnouncement(me, { ...FACTS, name: "no spaces allowed" });
  assertEquals(await readAnnouncement(badName), undefined);
  const badUrl = await signAnnouncement(me, { ...FACTS, url: "http://192.0.2.1" });
  assertEquals(await readAnnouncement(badUrl), undefined);
});

Deno.test("a question names a net; anything else is not a question", () => {
  assertEquals(readAsk(askDatagram("foo")), "foo");
  assertEquals(readAsk(new TextEncoder().encode("grid-lan/1 ask ../x")), undefined);
  assertEquals(readAsk(new TextEncoder().encode("hello")), undefined);
});

Deno.test("an announcement without a URL is dialled at its datagram's source", async () => {
  const me = await generateIdentity();
  const a = (await readAnnouncement(await signAnnouncement(me, { ...FACTS, url: "" })))!;
  assertEquals(dialUrl(a, "192.0.2.7"), "ws://192.0.2.7:7340");
  assertEquals(dialUrl(a, "fe80::1"), "ws://[fe80::1]:7340");
  const b = (await readAnnouncement(await signAnnouncement(me, FACTS)))!;
  assertEquals(dialUrl(b, "192.0.2.7"), "ws://192.0.2.1:7340");
});

Deno.test("an announced URL with control characters (terminal escapes) is not read, even signed", async () => {
  const me = await generateIdentity();
  for (const url of ["ws://192.0.2.1:7340/\x1b[2K\x1b[1A", "ws://x\x07:7340", "ws://a b:7340"]) {
    const bytes = await signAnnouncement(me, { ...FACTS, url }, 1_000_000);
    assertEquals(await readAnnouncement(bytes, 1_000_000), undefined, JSON.stringify(url));
  }
  assert(await readAnnouncement(await signAnnouncement(me, FACTS, 1_000_000), 1_000_000));
});
