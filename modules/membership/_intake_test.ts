import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { generateIdentity } from "../../kernel/mod.ts";
import { planIntake } from "./_intake.ts";
import type { MemberRecord } from "./records.ts";
import { admitRecord, makeNet, memberRequest } from "./_testing_net.ts";

async function setup() {
  const net = await makeNet({ policy: "open" });
  const [genesis, founder] = net.records;
  const joiner = await generateIdentity();
  const a = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(joiner, net.net, {}),
    "10.77.0.2",
    [founder.id],
  );
  const records = new Map<string, MemberRecord>([[genesis.id, genesis], [founder.id, founder]]);
  return { net, genesis, founder, joiner, a, records };
}

Deno.test("planIntake() takes a child that arrives before its parent once the parent comes", async () => {
  const { net, joiner, a, records } = await setup();
  // b is by the new member `joiner`, on top of a: only an author once a is in.
  const b = await admitRecord(
    joiner,
    net.net,
    await memberRequest(await generateIdentity(), net.net, {}),
    "10.77.0.3",
    [a.id],
  );
  const first = planIntake({
    netName: "testnet",
    founder: net.founder.id,
    records,
    pending: new Map(),
    fresh: [b],
  });
  assertEquals(first.added, []);
  assertEquals(first.waiting, [b]);
  assertEquals(first.missing, [a.id]);
  const second = planIntake({
    netName: "testnet",
    founder: net.founder.id,
    records,
    pending: new Map([[b.id, b]]),
    fresh: [a],
  });
  assertEquals(second.added.map((r) => r.id), [a.id, b.id]);
  assertEquals(second.waiting, []);
});

Deno.test("planIntake() refuses a second genesis and a record by a non-member", async () => {
  const { net, genesis, records } = await setup();
  const other = await makeNet();
  const stranger = await generateIdentity();
  const byStranger = await admitRecord(
    stranger,
    net.net,
    await memberRequest(await generateIdentity(), net.net, {}),
    "10.77.0.9",
    [genesis.id],
  );
  const plan = planIntake({
    netName: "testnet",
    founder: net.founder.id,
    records,
    pending: new Map(),
    fresh: [byStranger, { ...other.records[0], parents: [genesis.id] }],
  });
  assertEquals(plan.added, []);
  assertEquals(plan.refused.length, 2);
  assert(plan.refused.some((w) => w.includes("not a member")), plan.refused.join("; "));
  assert(plan.refused.some((w) => w.includes("second genesis")), plan.refused.join("; "));
});
