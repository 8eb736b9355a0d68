import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { decodeValue, encodeValue, generateIdentity, type Parm } from "../../kernel/mod.ts";
import { parseRecord, signRecord } from "./records.ts";
import { MembershipError } from "./errors.ts";
import { makeNet, memberRequest, testNode } from "./_testing_net.ts";
import { signEnvelope } from "./_signed.ts";
import { RECORD_CONTEXT } from "./records.ts";

Deno.test("a signed record parses back to the same hash and fields", async () => {
  const net = await makeNet();
  const [genesis, admit] = net.records;
  const again = await parseRecord(admit.bytes, net.net);
  assertEquals(again.id, admit.id);
  assertEquals(again.kind, "admit");
  assertEquals(again.author, net.founder.id);
  assertEquals(again.parents, [genesis.id]);
  assertEquals(genesis.net, genesis.id);
});

Deno.test("parseRecord() refuses a record with a tampered signature", async () => {
  const net = await makeNet();
  const outer = decodeValue(net.records[1].bytes) as { body: Uint8Array; sig: Uint8Array };
  const sig = outer.sig.slice();
  sig[5] ^= 1;
  const forged = encodeValue({ body: outer.body, sig });
  await assertRejects(() => parseRecord(forged), MembershipError, "bad signature");
});

Deno.test("parseRecord() refuses a record whose key is not its author's", async () => {
  const net = await makeNet();
  const other = await generateIdentity();
  const outer = decodeValue(net.records[1].bytes) as { body: Uint8Array; sig: Uint8Array };
  const body = decodeValue(outer.body) as { [key: string]: Parm };
  body.key = other.publicKey; // claims the founder as author with another key
  const bytes = await signEnvelope(other, RECORD_CONTEXT, body);
  await assertRejects(() => parseRecord(bytes), MembershipError, "not its author's");
});

Deno.test("parseRecord() refuses a record of another net", async () => {
  const a = await makeNet();
  const b = await makeNet();
  await assertRejects(() => parseRecord(a.records[1].bytes, b.net), MembershipError, "another net");
});

Deno.test("parseRecord() refuses malformed bytes with one clear line", async (t) => {
  const id = await generateIdentity();
  const rows: [string, Uint8Array][] = [
    ["garbage", new Uint8Array([1, 2, 3])],
    ["empty", new Uint8Array()],
    ["oversize", new Uint8Array(9000)],
    ["unknown kind", await signEnvelope(id, RECORD_CONTEXT, { v: 2, kind: "party" })],
    ["missing fields", await signEnvelope(id, RECORD_CONTEXT, { v: 2, kind: "left" })],
    [
      "unsigned",
      encodeValue({ body: encodeValue({ v: 2, kind: "left" }), sig: new Uint8Array(64) }),
    ],
  ];
  for (const [name, bytes] of rows) {
    await t.step(name, async () => {
      const err = await assertRejects(() => parseRecord(bytes), MembershipError);
      assert(!err.message.includes("\n"));
    });
  }
});

Deno.test("a non-genesis record must have parents", async () => {
  const net = await makeNet();
  const req = await memberRequest(await testNode(), net.net, {});
  await assertRejects(
    () =>
      signRecord(net.founder.identity, { kind: "admit", request: req, address: "10.77.0.9" }, {
        net: net.net,
      }),
    MembershipError,
    "no parents",
  );
});

Deno.test("a record of grid 0.1 (format version 1) is refused with one line naming both versions", async () => {
  const id = await generateIdentity();
  const v1 = await signEnvelope(id, "grid/membership-record/v1", { v: 1, kind: "left" });
  const err = await assertRejects(() => parseRecord(v1), MembershipError);
  assertEquals(
    err.message,
    "The record is in membership format version 1; this node speaks version 2 (version 1 is grid 0.1: upgrade that node, or make a new one)",
  );
});
