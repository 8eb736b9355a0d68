import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { planAdmission } from "./admission.ts";
import { MembershipError } from "./errors.ts";
import {
  admitNew,
  inviteFor,
  makeNet,
  memberRequest,
  revokeRecord,
  roleRecord,
  testNode,
} from "./_testing_net.ts";

Deno.test("planAdmission() gives an open net's joiner a fresh address", async () => {
  const net = await makeNet({ policy: "open" });
  const req = await memberRequest(await testNode(), "", {});
  const plan = planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 });
  assertEquals(plan.again, false);
  assertEquals(plan.address === "10.77.0.1", false);
});

Deno.test("planAdmission() refuses what the net's rules refuse", async (t) => {
  await t.step("a closed net without an invite", async () => {
    const net = await makeNet();
    const req = await memberRequest(await testNode(), "", {});
    assertThrows(
      () => planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 }),
      MembershipError,
      "closed",
    );
  });
  await t.step("a revoked node", async () => {
    const net = await makeNet({ policy: "open" });
    const joiner = await admitNew(net, { address: "10.77.0.2" });
    net.records.push(joiner.record);
    net.records.push(
      await revokeRecord(
        net.founder,
        net.net,
        { id: joiner.node.id, admit: joiner.record.id },
        net.heads(),
      ),
    );
    const req = await memberRequest(joiner.node, "", {});
    assertThrows(
      () => planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 }),
      MembershipError,
      "was revoked",
    );
  });
  await t.step("a plain member admits no one", async () => {
    const net = await makeNet({ policy: "open" });
    const m = await admitNew(net, { address: "10.77.0.2" });
    net.records.push(m.record);
    const req = await memberRequest(await testNode(), "", {});
    assertThrows(
      () => planAdmission(net.set(), req, { selfId: m.node.id, now: 5000 }),
      MembershipError,
      "only admins admit",
    );
  });
  await t.step("an invite naming another admin", async () => {
    const net = await makeNet();
    const a = await admitNew(net, { address: "10.77.0.2" });
    net.records.push(a.record);
    net.records.push(
      await roleRecord(
        net.founder,
        net.net,
        { id: a.node.id, admit: a.record.id },
        "admin",
        "10.77.16.0/20",
        net.heads(),
      ),
    );
    const invite = await inviteFor(net.founder, net.net);
    const req = await memberRequest(await testNode(), net.net, { invite });
    assertThrows(
      () => planAdmission(net.set(), req, { selfId: a.node.id, now: 5000 }),
      MembershipError,
      "names another admin",
    );
    const plan = planAdmission(
      net.set(),
      await memberRequest(await testNode(), net.net, { invite: await inviteFor(a.node, net.net) }),
      { selfId: a.node.id, now: 5000 },
    );
    const last = Number(plan.address.split(".")[2]);
    assertEquals(last >= 16 && last < 32, true);
  });
});

Deno.test("planAdmission() answers a live member's retry with the same key with its address", async () => {
  const net = await makeNet({ policy: "open" });
  const joiner = await testNode();
  const req = await memberRequest(joiner, net.net, {});
  const { record } = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(record);
  const set = net.set();
  const member = [...set.members.values()].find((m) => m.address === "10.77.0.2")!;
  const again = planAdmission(set, { ...req, id: member.id, wg: member.wg }, {
    selfId: net.founder.id,
    now: 5000,
  });
  assertEquals(again, { again: true, address: "10.77.0.2" });
});

Deno.test("planAdmission() refuses a request naming a closed net's id without an invite", async () => {
  const net = await makeNet();
  const req = await memberRequest(await testNode(), net.net, {});
  assertThrows(
    () => planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 }),
    MembershipError,
    "an invite is required",
  );
});
