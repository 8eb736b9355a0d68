import { assert, assertEquals, assertRejects, assertThrows } from "../../kernel/_testing_assert.ts";
import { decodeValue, encodeValue, generateIdentity, type Parm } from "../../kernel/mod.ts";
import {
  checkInvite,
  checkInviteFor,
  createInvite,
  type InviteContext,
  parseDuration,
  parseInviteToken,
  TOKEN_PREFIX,
} from "./invite.ts";
import { MembershipError } from "./errors.ts";

const URL = "ws://127.0.0.1:4100";

function context(selfId: string, over: Partial<InviteContext> = {}): InviteContext {
  return {
    netId: "net1",
    selfId,
    inviterProblem: () => undefined,
    usesOf: () => 0,
    now: 5000,
    ...over,
  };
}

Deno.test("an invite is one line that parses back to the same capability", async () => {
  const me = await generateIdentity();
  const made = await createInvite(me, {
    net: "net1",
    netName: "foo",
    urls: [URL],
    ttlMs: 60_000,
    uses: 2,
    now: 1000,
  });
  assert(made.token.startsWith(TOKEN_PREFIX) && !/\s/.test(made.token));
  const back = (await parseInviteToken(made.token)).invite;
  assertEquals([back.net, back.netName, back.urls, back.exp, back.uses, back.by, back.admin], [
    "net1",
    "foo",
    [URL],
    61_000,
    2,
    me.id,
    me.id,
  ]);
  assertEquals(back.useKey, made.invite.useKey);
  checkInvite(back, context(me.id));
});

Deno.test("parseInviteToken() refuses forged and malformed tokens", async (t) => {
  const me = await generateIdentity();
  const thief = await generateIdentity();
  const made = await createInvite(me, { net: "net1", netName: "foo", urls: [URL] });
  const inv = made.invite;
  const outer = decodeValue(inv.bytes) as { body: Uint8Array; sig: Uint8Array };
  const body = decodeValue(outer.body) as { [key: string]: Parm };
  body.uses = 1000; // raise the use count, keep the old signature
  const raised = encodeValue({ body: encodeValue(body), sig: outer.sig });
  body.key = thief.publicKey;
  const resigned = encodeValue({
    body: encodeValue(body),
    sig: await thief.sign(encodeValue(body)),
  });
  const asToken = (b: Uint8Array, seed = made.seed) =>
    TOKEN_PREFIX +
    encodeValue({ i: b, s: seed }).toBase64({ alphabet: "base64url", omitPadding: true });
  const rows: [string, string, string][] = [
    ["changed body", asToken(raised), "forged"],
    ["signed by someone else in the inviter's name", asToken(resigned), "forged"],
    ["a secret that is not the invite's", asToken(inv.bytes, new Uint8Array(32)), "secret"],
    ["no prefix", made.token.slice(TOKEN_PREFIX.length), "starts with"],
    ["not base64", TOKEN_PREFIX + "!!!", "base64url"],
    ["truncated", made.token.slice(0, 40), "Invalid invite"],
    ["a grid 0.1 token", "grid1.oWRib2R5QQA", "version 1"],
  ];
  for (const [name, token, includes] of rows) {
    await t.step(name, async () => {
      await assertRejects(() => parseInviteToken(token), MembershipError, includes);
    });
  }
});

Deno.test("checkInvite() refuses expired, used up, wrong-net and non-member invites", async (t) => {
  const me = await generateIdentity();
  const inv = (await createInvite(me, {
    net: "net1",
    netName: "foo",
    urls: [URL],
    ttlMs: 1000,
    now: Date.parse("2026-11-27T12:59:59Z"),
  })).invite;
  const rows: [string, Partial<InviteContext>, string][] = [
    [
      "expired",
      { now: Date.parse("2026-11-28T00:00:00Z") },
      "Invite expired at 2026-11-27T13:00:00Z",
    ],
    ["used up", { usesOf: () => 1, now: inv.exp - 1 }, "used up (1 of 1 uses)"],
    ["another net", { netId: "net2", now: inv.exp - 1 }, "another net"],
    [
      "inviter revoked",
      { inviterProblem: () => "is not a live member", now: inv.exp - 1 },
      "not a live member",
    ],
    ["another admin", { selfId: "someone-else", now: inv.exp - 1 }, "names another admin"],
  ];
  for (const [name, over, includes] of rows) {
    await t.step(name, () => {
      assertThrows(() => checkInvite(inv, context(me.id, over)), MembershipError, includes);
    });
  }
});

Deno.test("createInvite() refuses bad uses, lifetimes and a missing URL", async () => {
  const me = await generateIdentity();
  const base = { net: "n", netName: "foo", urls: [URL] };
  await assertRejects(() => createInvite(me, { ...base, uses: 0 }), MembershipError, "uses");
  await assertRejects(() => createInvite(me, { ...base, ttlMs: -1 }), MembershipError, "lifetime");
  await assertRejects(() => createInvite(me, { ...base, urls: [] }), MembershipError, "advertise");
});

Deno.test("parseDuration() reads s, m, h and d", () => {
  assertEquals(parseDuration("90s"), 90_000);
  assertEquals(parseDuration("2h"), 7_200_000);
  assertEquals(parseDuration("7d"), 604_800_000);
  assertThrows(() => parseDuration("1w"), MembershipError, "Invalid duration");
});

Deno.test("checkInviteFor() refuses an invite after its expiry, takes it up to then", async () => {
  const me = await generateIdentity();
  const inv = await createInvite(me, {
    net: "net1",
    netName: "foo",
    urls: [URL],
    ttlMs: 1000,
    now: 1000,
  });
  assertEquals((await checkInviteFor(inv.token, "foo", inv.invite.exp)).invite.exp, 2000);
  await assertRejects(
    () => checkInviteFor(inv.token, "foo", inv.invite.exp + 1),
    MembershipError,
    "expired",
  );
  await assertRejects(
    () => checkInviteFor(inv.token, "bar", inv.invite.exp),
    MembershipError,
    'not "bar"',
  );
});
