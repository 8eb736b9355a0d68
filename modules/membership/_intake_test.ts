import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { MAX_PENDING_PER_PEER, planIntake, type Waiting } from "./_intake.ts";
import { type MemberRecord, signRecord } from "./records.ts";
import { hashText } from "../../kernel/mod.ts";
import { admitNew, leftRecord, makeNet, testNode } from "./_testing_net.ts";

async function setup() {
  const net = await makeNet({ policy: "open" });
  const [genesis, founder] = net.records;
  const a = await admitNew(net, { address: "10.77.0.2" });
  const records = new Map<string, MemberRecord>([[genesis.id, genesis], [founder.id, founder]]);
  return { net, genesis, founder, a, records };
}

const input = (
  net: { founder: { id: string } },
  records: Map<string, MemberRecord>,
  pending: Map<string, Waiting>,
  fresh: MemberRecord[],
  from = "peer1",
) => ({ netName: "testnet", founder: net.founder.id, records, pending, fresh, from });

Deno.test("planIntake() takes a child that arrives before its parent once the parent comes", async () => {
  const { net, a, records } = await setup();
  // The new member's leave, on top of its admit: it waits until the admit comes.
  const left = await leftRecord(a.node, net.net, [a.record.id]);
  const first = planIntake(input(net, records, new Map(), [a.record, left].slice(1)));
  // Its author is unknown until its admit is in: refused now, fetched again later.
  assertEquals(first.added, []);
  assert(first.refused[0].includes("not a member"));
  const second = planIntake(input(net, records, new Map(), [left, a.record]));
  assertEquals(second.added.map((r) => r.id), [a.record.id, left.id]);
  assertEquals(second.waiting, []);
});

Deno.test("planIntake() lets a known author's record wait for a missing parent", async () => {
  const { net, a, records } = await setup();
  records.set(a.record.id, a.record);
  const b = await admitNew(net, { address: "10.77.0.3", parents: [a.record.id] });
  const c = await admitNew(net, { address: "10.77.0.4", parents: [b.record.id] });
  const plan = planIntake(input(net, records, new Map(), [c.record]));
  assertEquals(plan.added, []);
  assertEquals(plan.waiting.map((w) => w.record.id), [c.record.id]);
  assertEquals(plan.missing, [b.record.id]);
});

Deno.test("planIntake() refuses a second genesis and a record by a non-member", async () => {
  const { net, genesis, records } = await setup();
  const second = await signRecord(net.founder.identity, {
    kind: "genesis",
    name: "again",
    cidr: "10.9.0.0/16",
    policy: "open",
    psk: false,
    invite: "members",
  });
  const stranger = await testNode();
  const byStranger = await leftRecord(stranger, net.net, [genesis.id]);
  const plan = planIntake(
    input(net, records, new Map(), [byStranger, { ...second, parents: [genesis.id] }]),
  );
  assertEquals(plan.added, []);
  assertEquals(plan.refused.length, 2);
  assert(plan.refused.some((w) => w.includes("not a member")), plan.refused.join("; "));
  assert(plan.refused.some((w) => w.includes("second genesis")), plan.refused.join("; "));
});

Deno.test("planIntake() keeps only a few waiting records per sending peer", async () => {
  const { net, records } = await setup();
  // Records by the founder on parents nobody has: one peer sends many.
  const orphans: MemberRecord[] = [];
  for (let i = 0; i < MAX_PENDING_PER_PEER + 10; i++) {
    orphans.push(await leftRecord(net.founder, net.net, [hashText(`missing ${i}`).toString()]));
  }
  const plan = planIntake(input(net, records, new Map(), orphans, "flooder"));
  assertEquals(plan.waiting.length, MAX_PENDING_PER_PEER);
  const honest = await leftRecord(net.founder, net.net, [hashText("missing too").toString()]);
  const pending = new Map(plan.waiting.map((w) => [w.record.id, w]));
  const next = planIntake(input(net, records, pending, [honest], "honest"));
  assert(
    next.waiting.some((w) => w.record.id === honest.id),
    "an honest peer's record still waits",
  );
});
