import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import {
  findMember,
  foldMembers,
  isAdmin,
  liveMembers,
  type MemberSet,
  REQUEST_MAX_AGE_MS,
  SPONSOR_QUOTA,
} from "./member_set.ts";
import { signMemberRequest } from "./member_request.ts";
import { ipv6Of } from "./ipv6.ts";
import { MembershipError } from "./errors.ts";
import { signWithWgKey } from "../wireguard/mod.ts";
import {
  admitNew,
  admitRecord,
  inviteFor,
  leftRecord,
  makeNet,
  memberRequest,
  permutations,
  revokeRecord,
  roleRecord,
  shuffled,
  TEST_PROMISE,
  type TestNet,
  testNode,
} from "./_testing_net.ts";

function summary(set: MemberSet): string {
  return JSON.stringify(
    [...set.members.values()].map((m) => [m.id, m.address, m.status, m.role, m.revokedBy]).sort(),
  );
}

function assertNoDuplicateAddresses(set: MemberSet): void {
  const live = liveMembers(set).map((m) => m.address);
  assertEquals(new Set(live).size, live.length, `duplicate addresses: ${live}`);
}

/** A net with the founder, an admin A (slice 10.77.16.0/20) and a plain member V. */
async function netWithAdmin(): Promise<{
  net: TestNet;
  admin: Awaited<ReturnType<typeof admitNew>>;
  victim: Awaited<ReturnType<typeof admitNew>>;
}> {
  const net = await makeNet();
  const admin = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(admin.record);
  net.records.push(
    await roleRecord(
      net.founder,
      net.net,
      { id: admin.node.id, admit: admin.record.id },
      "admin",
      "10.77.16.0/20",
      net.heads(),
    ),
  );
  const victim = await admitNew(net, { address: "10.77.0.3" });
  net.records.push(victim.record);
  return { net, admin, victim };
}

Deno.test("the founder and invited joiners become live members", async () => {
  const net = await makeNet();
  const { node, record } = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(record);
  const set = net.set();
  assertEquals(liveMembers(set).map((m) => m.id).sort(), [net.founder.id, node.id].sort());
  assertEquals(set.members.get(node.id)!.address, "10.77.0.2");
  assertEquals(set.members.get(net.founder.id)!.role, "founder");
  assertEquals(set.heads, [record.id]);
});

Deno.test("every member has its derived IPv6 address, and is found by it in any spelling", async () => {
  const net = await makeNet();
  const { node, record } = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(record);
  const set = net.set();
  const member = set.members.get(node.id)!;
  assertEquals(member.address6, ipv6Of(net.net, node.id));
  assertEquals(set.members.get(net.founder.id)!.address6, ipv6Of(net.net, net.founder.id));
  assertEquals(findMember(set, member.address6).id, node.id);
  assertEquals(findMember(set, member.address6.toUpperCase()).id, node.id);
  assertEquals(findMember(set, "10.77.0.2").id, node.id);
  await assertRejects(
    () => Promise.resolve().then(() => findMember(set, "fd00::1")),
    MembershipError,
  );
});

Deno.test("attack: a plain member's admit is void, however far back it is attached", async () => {
  const { net, victim } = await netWithAdmin();
  const m = await admitNew(net, { address: "10.77.0.4" });
  net.records.push(m.record);
  // M signs its own admit of a sybil at the victim's address, attached to M's own admit
  // (backdated: it sorts before everything the net did since).
  const sybil = await testNode();
  const invite = await inviteFor(m.node, net.net, { admin: m.node });
  const req = await memberRequest(sybil, net.net, { invite });
  const forged = await admitRecord(m.node, net.net, req, "10.77.0.3", [m.record.id]);
  const set = foldMembers([...net.records, forged]);
  assertEquals(set.ignored.get(forged.id), "admits are signed by admins");
  assertEquals(set.members.get(victim.node.id)!.address, "10.77.0.3");
  assertEquals(set.members.get(victim.node.id)!.status, "live");
  assertEquals(set.status.get(sybil.id), undefined);
});

Deno.test("attack: nobody can claim another node's WireGuard key (the request proves it)", async () => {
  const net = await makeNet();
  const victim = await testNode();
  const thief = await testNode();
  await assertRejects(
    () =>
      signMemberRequest(thief.identity, {
        net: net.net,
        netName: "testnet",
        name: "thief",
        wg: victim.wg, // the victim's public key, signed with the thief's own WireGuard key
        promise: TEST_PROMISE,
        time: 2000,
      }, { signWithWgKey: (msg) => signWithWgKey(thief.wgSecret, msg) }),
    MembershipError,
    "does not prove it holds the WireGuard key",
  );
});

Deno.test("attack: a plain member's revoke is void, of the founder or of anyone", async () => {
  const { net, victim } = await netWithAdmin();
  const m = await admitNew(net, { address: "10.77.0.4" });
  net.records.push(m.record);
  const founderAdmit = net.records[1];
  const ofFounder = await revokeRecord(m.node, net.net, {
    id: net.founder.id,
    admit: founderAdmit.id,
  }, [m.record.id]);
  const ofVictim = await revokeRecord(m.node, net.net, {
    id: victim.node.id,
    admit: victim.record.id,
  }, net.heads());
  const set = foldMembers([...net.records, ofFounder, ofVictim]);
  assertEquals(set.ignored.get(ofFounder.id), "only an admin may revoke");
  assertEquals(set.ignored.get(ofVictim.id), "only an admin may revoke");
  assertEquals(set.status.get(net.founder.id), "live");
  assertEquals(set.status.get(victim.node.id), "live");
});

Deno.test("roles: an admin revokes a plain member; only the founder revokes an admin; none revokes the founder", async () => {
  const { net, admin, victim } = await netWithAdmin();
  const a2 = await admitNew(net, { address: "10.77.0.5" });
  net.records.push(a2.record);
  net.records.push(
    await roleRecord(
      net.founder,
      net.net,
      { id: a2.node.id, admit: a2.record.id },
      "admin",
      "10.77.32.0/20",
      net.heads(),
    ),
  );
  const ofAdmin = await revokeRecord(
    admin.node,
    net.net,
    { id: a2.node.id, admit: a2.record.id },
    net.heads(),
  );
  const ofFounder = await revokeRecord(admin.node, net.net, {
    id: net.founder.id,
    admit: net.records[1].id,
  }, net.heads());
  const ofVictim = await revokeRecord(admin.node, net.net, {
    id: victim.node.id,
    admit: victim.record.id,
  }, net.heads());
  const set = foldMembers([...net.records, ofAdmin, ofFounder, ofVictim]);
  assertEquals(set.ignored.get(ofAdmin.id), "only the founder may revoke an admin");
  assertEquals(set.ignored.get(ofFounder.id), "the founder cannot be revoked");
  assertEquals(set.status.get(victim.node.id), "revoked");
  assertEquals(set.members.get(victim.node.id)!.revokedBy, admin.node.id);
  assertEquals(set.status.get(a2.node.id), "live");
  const byFounder = await revokeRecord(net.founder, net.net, {
    id: a2.node.id,
    admit: a2.record.id,
  }, net.heads());
  assertEquals(foldMembers([...net.records, byFounder]).status.get(a2.node.id), "revoked");
});

Deno.test("attack: a removed admin cannot backdate a revoke or an admit", async (t) => {
  for (const how of ["demoted", "revoked"] as const) {
    await t.step(how, async () => {
      const { net, admin, victim } = await netWithAdmin();
      const before = net.heads();
      const removal = how === "demoted"
        ? await roleRecord(
          net.founder,
          net.net,
          { id: admin.node.id, admit: admin.record.id },
          "member",
          undefined,
          net.heads(),
        )
        : await revokeRecord(
          net.founder,
          net.net,
          { id: admin.node.id, admit: admin.record.id },
          net.heads(),
        );
      net.records.push(removal);
      // The former admin signs on parents from before its removal.
      const revoke = await revokeRecord(admin.node, net.net, {
        id: victim.node.id,
        admit: victim.record.id,
      }, before);
      const sybil = await admitNew(net, {
        admin: admin.node,
        address: "10.77.16.9",
        parents: before,
      });
      const set = foldMembers([...net.records, revoke, sybil.record]);
      assertEquals(set.status.get(victim.node.id), "live");
      assertEquals(set.ignored.get(revoke.id), "only an admin may revoke");
      assertEquals(set.status.get(sybil.node.id), undefined);
      assertEquals(set.ignored.get(sybil.record.id), "admits are signed by admins");
      assertEquals(isAdmin(set, admin.node.id), false);
    });
  }
});

Deno.test("two admins admit at the same moment in their own slices: both live, any arrival order", async () => {
  const { net, admin } = await netWithAdmin();
  const x = await admitNew(net, { address: "10.77.0.9" });
  const y = await admitNew(net, { admin: admin.node, address: "10.77.16.9" });
  const results = new Set<string>();
  for (const order of permutations([...net.records.slice(2), x.record, y.record])) {
    const set = foldMembers([...net.records.slice(0, 2), ...order]);
    assertNoDuplicateAddresses(set);
    assertEquals(set.status.get(x.node.id), "live");
    assertEquals(set.status.get(y.node.id), "live");
    results.add(summary(set));
  }
  assertEquals(results.size, 1);
});

Deno.test("an admin admits only inside its slice; the founder not inside a slice it granted", async () => {
  const { net, admin } = await netWithAdmin();
  const outside = await admitNew(net, { admin: admin.node, address: "10.77.0.40" });
  const intoSlice = await admitNew(net, { address: "10.77.16.40" });
  const set = foldMembers([...net.records, outside.record, intoSlice.record]);
  assertEquals(set.ignored.get(outside.record.id), "its address is outside the admin's slice");
  assertEquals(set.ignored.get(intoSlice.record.id), "its address is outside the admin's slice");
});

Deno.test("an admit at a held address is void and nobody moves, in every order", async () => {
  const net = await makeNet({ cidr: "10.77.0.0/29" });
  const b = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(b.record);
  // The founder (misbehaving, or forked) signs two concurrent admits at one address.
  const x = await admitNew(net, { address: "10.77.0.3" });
  const y = await admitNew(net, { address: "10.77.0.3" });
  const results = new Set<string>();
  for (const order of permutations([...net.records, x.record, y.record])) {
    const set = foldMembers(order);
    assertNoDuplicateAddresses(set);
    const live = [x, y].filter((j) => set.status.get(j.node.id) === "live");
    assertEquals(live.length, 1);
    assertEquals(set.members.get(live[0].node.id)!.address, "10.77.0.3");
    assertEquals(set.members.get(b.node.id)!.address, "10.77.0.2");
    results.add(summary(set));
  }
  assertEquals(results.size, 1);
});

Deno.test("an invite is redeemed only by the admin it names, and only as often as it says", async () => {
  const { net, admin } = await netWithAdmin();
  const invite = await inviteFor(net.founder, net.net, { uses: 1 });
  const j1 = await testNode();
  const j2 = await testNode();
  const r1 = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(j1, net.net, { invite }),
    "10.77.0.20",
    net.heads(),
  );
  const r2 = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(j2, net.net, { invite }),
    "10.77.0.30",
    [r1.id],
  );
  const elsewhere = await admitRecord(
    admin.node,
    net.net,
    await memberRequest(await testNode(), net.net, { invite }),
    "10.77.16.30",
    net.heads(),
  );
  const set = foldMembers([...net.records, r1, r2, elsewhere]);
  assertEquals(set.status.get(j1.id), "live");
  assertEquals(set.ignored.get(r2.id), "the invite is used up");
  assertEquals(set.ignored.get(elsewhere.id), "the invite names another admin");
});

Deno.test("attack: the invite a revoked member joined with, and its own invites, die with it", async () => {
  const { net, admin } = await netWithAdmin();
  // M joins with a 5-use invite, and keeps its secret.
  const shared = await inviteFor(net.founder, net.net, { uses: 5 });
  const m = await testNode();
  const mAdmit = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(m, net.net, { invite: shared }),
    "10.77.0.50",
    net.heads(),
  );
  net.records.push(mAdmit);
  const fromM = await inviteFor(m, net.net, { admin: admin.node, uses: 5 });
  const early = await testNode(); // admitted under M's invite before the revoke
  const earlyAdmit = await admitRecord(
    admin.node,
    net.net,
    await memberRequest(early, net.net, { invite: fromM }),
    "10.77.16.50",
    net.heads(),
  );
  net.records.push(earlyAdmit);
  const beforeRevoke = net.heads();
  const revoke = await revokeRecord(
    net.founder,
    net.net,
    { id: m.id, admit: mAdmit.id },
    net.heads(),
  );
  net.records.push(revoke);
  // After (or concurrently with) the revoke: M's fresh identity with the shared invite, and
  // a sybil with M's own invite.
  const again = await testNode();
  const viaShared = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(again, net.net, { invite: shared }),
    "10.77.0.51",
    net.heads(),
  );
  const sybil = await testNode();
  const viaM = await admitRecord(
    admin.node,
    net.net,
    await memberRequest(sybil, net.net, { invite: fromM }),
    "10.77.16.51",
    beforeRevoke,
  );
  const set = foldMembers([...net.records, viaShared, viaM]);
  assertEquals(set.status.get(m.id), "revoked");
  assertEquals(set.status.get(early.id), "live"); // the net had it before the revoke
  assertEquals(set.ignored.get(viaShared.id), "a member who joined with the invite was revoked");
  assertEquals(set.ignored.get(viaM.id), "the inviter had left or was revoked");
});

Deno.test("a lineage revoke takes the member and everyone its invitations brought in", async () => {
  const net = await makeNet();
  const m = await admitNew(net, { address: "10.77.0.60" });
  net.records.push(m.record);
  const s1 = await admitNew(net, { inviter: m.node, address: "10.77.0.61" });
  net.records.push(s1.record);
  const s2 = await admitNew(net, { inviter: s1.node, address: "10.77.0.62" });
  net.records.push(s2.record);
  const other = await admitNew(net, { address: "10.77.0.63" });
  net.records.push(other.record);
  const set = foldMembers([
    ...net.records,
    await revokeRecord(
      net.founder,
      net.net,
      { id: m.node.id, admit: m.record.id },
      net.heads(),
      true,
    ),
  ]);
  for (const n of [m, s1, s2]) assertEquals(set.status.get(n.node.id), "revoked");
  assertEquals(set.status.get(other.node.id), "live");
  assertEquals(set.members.get(s2.node.id)!.sponsor, m.node.id);
});

Deno.test(`a plain member's invitations hold at most ${SPONSOR_QUOTA} members`, async () => {
  const net = await makeNet();
  const m = await admitNew(net, { address: "10.77.1.1" });
  net.records.push(m.record);
  const invite = await inviteFor(m.node, net.net, { admin: net.founder, uses: SPONSOR_QUOTA + 1 });
  let last = "";
  for (let i = 0; i <= SPONSOR_QUOTA; i++) {
    const req = await memberRequest(await testNode(), net.net, { invite });
    const r = await admitRecord(net.founder, net.net, req, `10.77.2.${i + 1}`, net.heads());
    net.records.push(r);
    last = r.id;
  }
  const set = net.set();
  // M itself counts: its tree holds M and 63 invitees.
  assertEquals(liveMembers(set).filter((x) => x.sponsor === m.node.id).length, SPONSOR_QUOTA);
  assertEquals(set.ignored.get(last), `its sponsor's invitations hold ${SPONSOR_QUOTA} members`);
});

Deno.test("with invites by admins only, a plain member's invite admits no one", async () => {
  const net = await makeNet({ invite: "admins" });
  const m = await admitNew(net, { address: "10.77.0.70" });
  net.records.push(m.record);
  const viaM = await admitNew(net, { inviter: m.node, address: "10.77.0.71" });
  const set = foldMembers([...net.records, viaM.record]);
  assertEquals(set.ignored.get(viaM.record.id), "only admins may invite to this net");
});

Deno.test("attack: a request admits once, and never when stale", async () => {
  const net = await makeNet({ policy: "open" });
  const v = await testNode();
  const req = await memberRequest(v, "", { time: 2000 });
  const admit = await admitRecord(net.founder, net.net, req, "10.77.0.80", net.heads());
  net.records.push(admit, await leftRecord(v, net.net, [admit.id]));
  const replay = await admitRecord(net.founder, net.net, req, "10.77.0.81", net.heads());
  const stale = await admitRecord(
    net.founder,
    net.net,
    await memberRequest(await testNode(), "", { time: 2000 }),
    "10.77.0.82",
    net.heads(),
    2000 + REQUEST_MAX_AGE_MS + 1,
  );
  const set = foldMembers([...net.records, replay, stale]);
  assertEquals(set.status.get(v.id), "left");
  assertEquals(set.ignored.get(replay.id), "the request was used before");
  assertEquals(set.ignored.get(stale.id), "the request is stale");
});

Deno.test("a member that leaves frees its address for a later admit", async () => {
  const net = await makeNet();
  const b = await admitNew(net, { address: "10.77.0.2" });
  net.records.push(b.record);
  net.records.push(await leftRecord(b.node, net.net, net.heads()));
  const c = await admitNew(net, { address: "10.77.0.2" });
  const set = foldMembers([...net.records, c.record]);
  assertEquals(set.status.get(b.node.id), "left");
  assertEquals(set.members.get(c.node.id)!.address, "10.77.0.2");
});

Deno.test("records with a missing ancestor wait outside the fold", async () => {
  const net = await makeNet();
  const b = await admitNew(net, { address: "10.77.0.2" });
  const c = await admitNew(net, { address: "10.77.0.3", parents: [b.record.id] });
  const set = foldMembers([...net.records, c.record]);
  assertEquals(set.size, 2);
  assertEquals(set.status.get(c.node.id), undefined);
});

Deno.test("only the founder names admins, from a slice inside the block and clear of others", async () => {
  const net = await makeNet();
  const a = await admitNew(net, { address: "10.77.0.2" });
  const b = await admitNew(net, { address: "10.77.0.3" });
  net.records.push(a.record, b.record);
  const byMember = await roleRecord(
    net.founder,
    net.net,
    { id: b.node.id, admit: b.record.id },
    "admin",
    "10.77.48.0/20",
    net.heads(),
    a.node,
  );
  const ok = await roleRecord(
    net.founder,
    net.net,
    { id: a.node.id, admit: a.record.id },
    "admin",
    "10.77.16.0/20",
    net.heads(),
  );
  const overlap = await roleRecord(
    net.founder,
    net.net,
    { id: b.node.id, admit: b.record.id },
    "admin",
    "10.77.16.0/21",
    [ok.id],
  );
  const outside = await roleRecord(
    net.founder,
    net.net,
    { id: b.node.id, admit: b.record.id },
    "admin",
    "10.78.0.0/20",
    [ok.id],
  );
  const set = foldMembers([...net.records, byMember, ok, overlap, outside]);
  assertEquals(set.ignored.get(byMember.id), "only the founder grants or removes admin rights");
  assertEquals(set.ignored.get(overlap.id), "its slice overlaps another admin's");
  assertEquals(set.ignored.get(outside.id), "its slice is outside the net's block");
  assert(isAdmin(set, a.node.id));
  assert(!isAdmin(set, b.node.id));
  assertEquals(set.members.get(a.node.id)!.role, "admin");
});

Deno.test("the fold is the same for every arrival order of a busy net (300 shuffles)", async () => {
  const { net, admin, victim } = await netWithAdmin();
  const joins = [];
  for (let i = 0; i < 4; i++) {
    joins.push(
      await admitNew(net, {
        admin: i % 2 ? admin.node : net.founder,
        address: i % 2 ? `10.77.16.${i + 2}` : `10.77.0.${i + 10}`,
      }),
    );
  }
  net.records.push(...joins.map((j) => j.record));
  net.records.push(
    await revokeRecord(
      admin.node,
      net.net,
      { id: victim.node.id, admit: victim.record.id },
      net.heads(),
    ),
  );
  net.records.push(await leftRecord(joins[0].node, net.net, net.heads()));
  const want = summary(net.set());
  for (let seed = 1; seed <= 300; seed++) {
    assertEquals(summary(foldMembers(shuffled(net.records, seed))), want);
  }
});
