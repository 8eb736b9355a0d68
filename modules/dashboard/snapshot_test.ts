import { assertEquals } from "../../kernel/_testing_assert.ts";
import type { NetState } from "../membership/mod.ts";
import { admitNew, makeNet, revokeRecord } from "../membership/_testing_net.ts";
import { netHistory } from "./snapshot.ts";

Deno.test("netHistory lists founding, admits and revokes, newest first, with who signed", async () => {
  const net = await makeNet();
  const joiner = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(joiner.record);
  const revoke = await revokeRecord(
    net.founder,
    net.net,
    { id: joiner.node.id, admit: joiner.record.id },
    net.heads(),
  );
  net.records.push(revoke);
  const state = {
    records: new Map(net.records.map((r) => [r.id, r])),
    set: net.set(),
  } as Pick<NetState, "records" | "set">;
  const founder = net.set().members.get(net.founder.id)!.name;
  const joinerName = net.set().members.get(joiner.node.id)!.name;
  const rows = netHistory(state as NetState).map((e) => [e.kind, e.member, e.by, e.detail]);
  assertEquals(rows, [
    ["revoked", joinerName, founder, null],
    ["admit", joinerName, founder, "10.77.0.2"],
    ["admit", founder, founder, "10.77.0.1"],
    ["genesis", founder, founder, "testnet"],
  ]);
  assertEquals(netHistory(state as NetState, 2).length, 2);
});
