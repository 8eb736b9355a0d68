import { assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { decodeValue, encodeValue, generateIdentity, type Parm } from "../../kernel/mod.ts";
import { parseMemberRequest, REQUEST_CONTEXT } from "./member_request.ts";
import { INVITE_CONTEXT, parseInvite } from "./invite.ts";
import { parseRecord, RECORD_CONTEXT } from "./records.ts";
import { signEnvelope } from "./_signed.ts";
import { MembershipError } from "./errors.ts";
import { inviteFor, makeNet, memberRequest, testNode } from "./_testing_net.ts";

type Envelope = { body: Uint8Array; sig: Uint8Array };

function flipLast(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  out[out.length - 1] ^= 1;
  return out;
}

Deno.test("a member request parses back with its signer's id", async () => {
  const me = await testNode();
  const req = await memberRequest(me, "net1", {});
  const back = await parseMemberRequest(req.bytes);
  assertEquals([back.id, back.net, back.wg], [me.id, "net1", me.wg]);
});

Deno.test("parseMemberRequest() refuses a flipped body or signature byte", async (t) => {
  const req = await memberRequest(await testNode(), "net1", {});
  const outer = decodeValue(req.bytes) as Envelope & { wgSig: Uint8Array };
  const body = decodeValue(outer.body) as { [key: string]: Parm };
  body.name = body.name === "aaaaaa" ? "bbbbbb" : "aaaaaa";
  const rows: [string, Uint8Array][] = [
    ["changed body", encodeValue({ body: encodeValue(body), sig: outer.sig, wgSig: outer.wgSig })],
    [
      "flipped signature byte",
      encodeValue({ body: outer.body, sig: flipLast(outer.sig), wgSig: outer.wgSig }),
    ],
  ];
  for (const [name, bytes] of rows) {
    await t.step(name, async () => {
      await assertRejects(() => parseMemberRequest(bytes), MembershipError, "bad signature");
    });
  }
});

Deno.test("parseMemberRequest() refuses a request signed by one key that claims another id", async () => {
  const a = await testNode();
  const b = await generateIdentity();
  const req = await memberRequest(a, "net1", {});
  const body = decodeValue((decodeValue(req.bytes) as Envelope).body) as { [key: string]: Parm };
  body.id = b.id;
  const forged = await signEnvelope(a.identity, REQUEST_CONTEXT, body);
  await assertRejects(() => parseMemberRequest(forged), MembershipError, "not its id");
});

Deno.test("a signature made for one kind of object never verifies as another", async (t) => {
  const node = await testNode();
  const me = node.identity;
  const net = await makeNet();
  const req = await memberRequest(node, "net1", {});
  const invite = (await inviteFor(node, "net1")).invite;
  const bodyOf = (bytes: Uint8Array) =>
    decodeValue((decodeValue(bytes) as Envelope).body) as { [key: string]: Parm };
  const rows: [string, () => Promise<unknown>, string][] = [
    [
      "a request body signed as a record",
      async () => parseMemberRequest(await signEnvelope(me, RECORD_CONTEXT, bodyOf(req.bytes))),
      "bad signature",
    ],
    [
      "an invite body signed as a record",
      async () => parseInvite(await signEnvelope(me, RECORD_CONTEXT, bodyOf(invite.bytes))),
      "signature does not verify",
    ],
    [
      "a record body signed as an invite",
      async () =>
        parseRecord(
          await signEnvelope(net.founder.identity, INVITE_CONTEXT, bodyOf(net.records[1].bytes)),
        ),
      "bad signature",
    ],
  ];
  for (const [name, parse, includes] of rows) {
    await t.step(name, async () => {
      await assertRejects(parse, MembershipError, includes);
    });
  }
});

Deno.test("a request must prove the invite's secret: an invite copied out of a record admits no one", async () => {
  const node = await testNode();
  const token = await inviteFor(node, "net1");
  // The thief has the public invite (as records carry it) but not its seed.
  const thief = await testNode();
  const fakeSeed = crypto.getRandomValues(new Uint8Array(32));
  await assertRejects(
    () =>
      memberRequest(thief, "net1", {
        invite: { ...token, seed: fakeSeed },
      }),
    MembershipError,
    "does not prove it holds the invite's secret",
  );
});

Deno.test("a request without the WireGuard key proof is refused", async () => {
  const req = await memberRequest(await testNode(), "net1", {});
  const outer = decodeValue(req.bytes) as Envelope;
  await assertRejects(
    () => parseMemberRequest(encodeValue({ body: outer.body, sig: outer.sig })),
    MembershipError,
    "does not prove it holds the WireGuard key",
  );
});
