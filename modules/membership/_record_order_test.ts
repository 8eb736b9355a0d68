import { assertEquals } from "../../kernel/_testing_assert.ts";
import { parentsFirst } from "./_record_order.ts";
import type { MemberRecord } from "./records.ts";
import { admitRecord, makeNet, memberRequest, testNode } from "./_testing_net.ts";

Deno.test("parentsFirst() puts every record after its parents", async () => {
  const net = await makeNet({ policy: "open" });
  const [genesis, founder] = net.records;
  const a = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(await testNode(), net.net, {}),
    "10.77.0.2",
    [founder.id],
  );
  const b = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(await testNode(), net.net, {}),
    "10.77.0.3",
    [a.id],
  );
  // Children first in the map, so map order alone would be wrong.
  const byId = new Map<string, MemberRecord>([b, a, founder, genesis].map((r) => [r.id, r]));
  assertEquals(parentsFirst(byId), [genesis.bytes, founder.bytes, a.bytes, b.bytes]);
});
