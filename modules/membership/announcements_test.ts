import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { generateIdentity } from "../../kernel/mod.ts";
import {
  ANNOUNCEMENT_CONTEXT,
  MAX_OBSERVED,
  parseAnnouncement,
  signAnnouncement,
} from "./announcements.ts";
import { FORMAT_VERSION, signEnvelope } from "./_signed.ts";
import { MembershipError } from "./errors.ts";

const NET = "bafynet";

Deno.test("an announcement carries observations of peers, by WireGuard or by grid link, and reads back", async () => {
  const me = await generateIdentity();
  const a = await signAnnouncement(me, NET, 5, {
    endpoint: "198.51.100.1:51820",
    observed: [
      { member: "bahwqcerapeer1", endpoint: "198.51.100.3:40001" },
      { member: "bahwqcerapeer2", endpoint: "198.51.100.4:51820", via: "link" },
    ],
  });
  const back = await parseAnnouncement(a.bytes, NET);
  assertEquals(back.observed, [
    { member: "bahwqcerapeer1", endpoint: "198.51.100.3:40001" },
    { member: "bahwqcerapeer2", endpoint: "198.51.100.4:51820", via: "link" },
  ]);
});

Deno.test("an announcement with a bad observation is refused with one line", async () => {
  const me = await generateIdentity();
  const body = (observed: unknown) => ({
    v: FORMAT_VERSION,
    net: NET,
    author: me.id,
    key: me.publicKey,
    seq: 1,
    observed,
  });
  const cases: [unknown, RegExp][] = [
    [[{ member: "x", endpoint: "198.51.100.1:1", via: "pigeon" }], /"wg" or "link"/],
    [[{ member: "x", endpoint: "not an endpoint" }], /endpoint/],
    [[{ member: "x", endpoint: "198.51.100.1:1", extra: 1 }], /extra/],
    [
      Array.from({ length: MAX_OBSERVED + 1 }, () => ({ member: "x", endpoint: "198.51.100.1:1" })),
      /at most/,
    ],
  ];
  for (const [observed, pattern] of cases) {
    // deno-lint-ignore no-explicit-any
    const bytes = await signEnvelope(me, ANNOUNCEMENT_CONTEXT, body(observed) as any);
    const err = await assertRejects(() => parseAnnouncement(bytes, NET), MembershipError);
    assert(pattern.test(err.message) && !err.message.includes("\n"), err.message);
  }
});
