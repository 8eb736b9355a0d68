import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { generateIdentity, type Identity } from "../../kernel/mod.ts";
import { foldMembers, liveMembers, type MemberSet } from "./member_set.ts";
import { type MemberRecord, signRecord } from "./records.ts";
import { createInvite } from "./invite.ts";
import { admitRecord, makeNet, memberRequest, permutations, type TestNet } from "./_testing_net.ts";

const URL = "ws://127.0.0.1:4100";

function summary(set: MemberSet): string {
  return JSON.stringify(
    [...set.members.values()].map((m) => [m.id, m.address, m.status]).sort(),
  );
}

function assertNoDuplicateAddresses(set: MemberSet): void {
  const live = liveMembers(set).map((m) => m.address);
  assertEquals(new Set(live).size, live.length, `duplicate addresses: ${live}`);
}

/** Admits a fresh node invited by `by` (an invite made by `by`). */
async function admitNew(
  net: TestNet,
  by: Identity,
  address: string,
  parents: string[],
): Promise<{ node: Identity; record: MemberRecord }> {
  const node = await generateIdentity();
  const invite = await createInvite(by, { net: net.net, netName: "testnet", urls: [URL], now: 0 });
  const request = await memberRequest(node, net.net, { invite });
  return { node, record: await admitRecord(by, net.net, request, address, parents) };
}

Deno.test("the founder and invited joiners become live members", async () => {
  const net = await makeNet();
  const { node, record } = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  net.records.push(record);
  const set = net.set();
  assertEquals(liveMembers(set).map((m) => m.id), [net.founder.id, node.id]);
  assertEquals(set.members.get(node.id)!.address, "10.77.0.2");
  assertEquals(set.heads, [record.id]);
});

Deno.test("concurrent admits of the same address converge in any arrival order", async () => {
  const net = await makeNet();
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  net.records.push(b.record);
  // Founder and B each admit a newcomer at the same moment, claiming the same address.
  const x = await admitNew(net, net.founder, "10.77.0.9", [b.record.id]);
  const y = await admitNew(net, b.node, "10.77.0.9", [b.record.id]);
  const results = new Set<string>();
  for (const order of permutations([...net.records, x.record, y.record])) {
    const set = foldMembers(order);
    assertNoDuplicateAddresses(set);
    results.add(summary(set));
  }
  assertEquals(results.size, 1);
  const set = foldMembers([...net.records, x.record, y.record]);
  const [winner, loser] = x.record.id < y.record.id ? [x, y] : [y, x];
  assertEquals(set.members.get(winner.node.id)!.address, "10.77.0.9");
  assertEquals(set.members.get(loser.node.id)!.address, "10.77.0.10");
});

Deno.test("many colliding concurrent admits: same set everywhere, never a duplicate", async () => {
  const net = await makeNet({ cidr: "10.77.0.0/29" }); // hosts .1 to .6: collisions are forced
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  net.records.push(b.record);
  const concurrent: MemberRecord[] = [];
  for (let i = 0; i < 4; i++) {
    const by = i % 2 === 0 ? net.founder : b.node;
    concurrent.push((await admitNew(net, by, "10.77.0.3", [b.record.id])).record);
  }
  const results = new Set<string>();
  for (let round = 0; round < 30; round++) {
    const shuffled = [...net.records, ...concurrent].sort(() => Math.random() - 0.5);
    const set = foldMembers(shuffled);
    assertNoDuplicateAddresses(set);
    assertEquals(liveMembers(set).length, 6);
    results.add(summary(set));
  }
  assertEquals(results.size, 1);
});

Deno.test("a one-use invite used at two inviters at once admits exactly one joiner", async () => {
  const net = await makeNet();
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  net.records.push(b.record);
  const invite = await createInvite(net.founder, {
    net: net.net,
    netName: "testnet",
    urls: [URL],
    uses: 1,
    now: 0,
  });
  const j1 = await generateIdentity();
  const j2 = await generateIdentity();
  const r1 = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(j1, net.net, { invite }),
    "10.77.0.20",
    [b.record.id],
  );
  const r2 = await admitRecord(
    b.node,
    net.net,
    await memberRequest(j2, net.net, { invite }),
    "10.77.0.30",
    [b.record.id],
  );
  const outcomes = new Set<string>();
  for (const order of permutations([...net.records, r1, r2])) {
    const set = foldMembers(order);
    const admitted = [j1, j2].filter((j) => set.status.get(j.id) === "live");
    assertEquals(admitted.length, 1);
    outcomes.add(admitted[0].id);
    assertEquals(set.ignored.get(r1.id < r2.id ? r2.id : r1.id), "the invite is used up");
  }
  assertEquals(outcomes.size, 1);
});

Deno.test("a closed net ignores an admit without an invite; an open net takes it", async () => {
  for (const policy of ["invite", "open"] as const) {
    const net = await makeNet({ policy });
    const node = await generateIdentity();
    const rec = await admitRecord(
      net.founder,
      net.net,
      await memberRequest(node, net.net, {}),
      "10.77.0.5",
      [net.records[1].id],
    );
    const set = foldMembers([...net.records, rec]);
    assertEquals(set.status.get(node.id), policy === "open" ? "live" : undefined);
  }
});

Deno.test("records by a node that was never admitted are ignored", async () => {
  const net = await makeNet();
  const stranger = await generateIdentity();
  const { record } = await admitNew(net, stranger, "10.77.0.5", [net.records[1].id]);
  const set = foldMembers([...net.records, record]);
  assertEquals(set.ignored.get(record.id), "its author is not a live member");
  assertEquals(liveMembers(set).length, 1);
});

Deno.test("a revoked node's concurrent admits are void and it is never re-admitted", async () => {
  const net = await makeNet();
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  net.records.push(b.record);
  // B admits a friend while the founder revokes B: the two records are concurrent.
  const revoke = await signRecord(net.founder, { kind: "revoked", member: b.node.id }, {
    net: net.net,
    parents: [b.record.id],
  });
  // Make the friend's admit sort before the revoke (same depth, lower hash), so only
  // the retroactive rule can void it.
  let friend = await admitNew(net, b.node, "10.77.0.7", [b.record.id]);
  while (friend.record.id > revoke.id) {
    friend = await admitNew(net, b.node, "10.77.0.7", [b.record.id]);
  }
  // Then someone tries to admit B again on top of everything.
  const again = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(b.node, net.net, {
      invite: await createInvite(net.founder, {
        net: net.net,
        netName: "testnet",
        urls: [URL],
        now: 0,
      }),
    }),
    "10.77.0.8",
    [friend.record.id, revoke.id].sort(),
  );
  const results = new Set<string>();
  for (const order of permutations([...net.records, friend.record, revoke, again])) {
    const set = foldMembers(order);
    assertEquals(set.status.get(b.node.id), "revoked");
    assertEquals(set.status.get(friend.node.id), undefined);
    assertEquals(set.ignored.get(again.id), "a revoked node cannot be admitted again");
    results.add(summary(set));
  }
  assertEquals(results.size, 1);
});

Deno.test("a member that leaves frees its address; its later records are ignored", async () => {
  const net = await makeNet();
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  const left = await signRecord(b.node, { kind: "left" }, { net: net.net, parents: [b.record.id] });
  const late = await signRecord(b.node, { kind: "endpoint", endpoint: "10.0.0.1:51820" }, {
    net: net.net,
    parents: [left.id],
  });
  const c = await admitNew(net, net.founder, "10.77.0.2", [left.id]);
  const set = foldMembers([...net.records, b.record, left, late, c.record]);
  assertEquals(set.status.get(b.node.id), "left");
  assertEquals(set.ignored.get(late.id), "its author is not a live member");
  assertEquals(set.members.get(c.node.id)!.address, "10.77.0.2");
  assert(liveMembers(set).every((m) => m.id !== b.node.id));
});

Deno.test("records with a missing ancestor wait outside the fold", async () => {
  const net = await makeNet();
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  const c = await admitNew(net, b.node, "10.77.0.3", [b.record.id]);
  const set = foldMembers([...net.records, c.record]);
  assertEquals(set.size, 2);
  assertEquals(set.status.get(c.node.id), undefined);
});

Deno.test("the fold ignores an admit under an expired invite or one from a gone inviter", async (t) => {
  const net = await makeNet();
  const b = await admitNew(net, net.founder, "10.77.0.2", [net.records[1].id]);
  net.records.push(b.record);
  const expired = await createInvite(net.founder, {
    net: net.net,
    netName: "testnet",
    urls: [URL],
    ttlMs: 1000,
    now: 0,
  });
  await t.step("admit time after the invite's expiry", async () => {
    const node = await generateIdentity();
    const req = await memberRequest(node, net.net, { invite: expired });
    const rec = await admitRecord(net.founder, net.net, req, "10.77.0.5", [b.record.id], 3000);
    const set = foldMembers([...net.records, rec]);
    assertEquals(set.ignored.get(rec.id), "the invite had expired");
    assertEquals(set.status.get(node.id), undefined);
  });
  const byB = await createInvite(b.node, { net: net.net, netName: "testnet", urls: [URL], now: 0 });
  const gone: [string, MemberRecord][] = [
    [
      "inviter revoked",
      await signRecord(net.founder, { kind: "revoked", member: b.node.id }, {
        net: net.net,
        parents: [b.record.id],
      }),
    ],
    [
      "inviter left",
      await signRecord(b.node, { kind: "left" }, { net: net.net, parents: [b.record.id] }),
    ],
  ];
  for (const [name, record] of gone) {
    await t.step(name, async () => {
      const node = await generateIdentity();
      const req = await memberRequest(node, net.net, { invite: byB });
      const rec = await admitRecord(net.founder, net.net, req, "10.77.0.6", [record.id]);
      const set = foldMembers([...net.records, record, rec]);
      assertEquals(set.ignored.get(rec.id), "the inviter is not a live member");
      assertEquals(set.status.get(node.id), undefined);
    });
  }
});
