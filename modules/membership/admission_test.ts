import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { generateIdentity } from "../../kernel/mod.ts";
import { planAdmission } from "./admission.ts";
import { MembershipError } from "./errors.ts";
import { signRecord } from "./records.ts";
import { admitRecord, makeNet, memberRequest } from "./_testing_net.ts";

Deno.test("planAdmission() gives an open net's joiner a fresh address", async () => {
  const net = await makeNet({ policy: "open" });
  const req = await memberRequest(await generateIdentity(), "", {});
  const plan = planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 });
  assertEquals(plan.again, false);
  assertEquals(plan.address === "10.77.0.1", false);
});

Deno.test("planAdmission() refuses what the net's rules refuse", async (t) => {
  const rows: { name: string; open: boolean; revoked: boolean; want: string }[] = [
    { name: "a closed net without an invite", open: false, revoked: false, want: "closed" },
    { name: "a revoked node", open: true, revoked: true, want: "was revoked" },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const net = await makeNet({ policy: row.open ? "open" : "invite" });
      const joiner = await generateIdentity();
      if (row.revoked) {
        const req = await memberRequest(joiner, net.net, {});
        const admit = await admitRecord(net.founder, net.net, req, "10.77.0.2", [
          net.records[1].id,
        ]);
        const revoke = await signRecord(net.founder, { kind: "revoked", member: joiner.id }, {
          net: net.net,
          parents: [admit.id],
          time: 4000,
        });
        net.records.push(admit, revoke);
      }
      const req = await memberRequest(joiner, "", {});
      assertThrows(
        () => planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 }),
        MembershipError,
        row.want,
      );
    });
  }
});

Deno.test("planAdmission() answers a live member's retry with the same key with its address", async () => {
  const net = await makeNet({ policy: "open" });
  const joiner = await generateIdentity();
  const req = await memberRequest(joiner, net.net, {});
  net.records.push(await admitRecord(net.founder, net.net, req, "10.77.0.2", [net.records[1].id]));
  const plan = planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 });
  assertEquals(plan, { again: true, address: "10.77.0.2" });
});

Deno.test("planAdmission() refuses a request naming a closed net's id without an invite", async () => {
  const net = await makeNet();
  const req = await memberRequest(await generateIdentity(), net.net, {});
  assertThrows(
    () => planAdmission(net.set(), req, { selfId: net.founder.id, now: 5000 }),
    MembershipError,
    "an invite is required",
  );
});
