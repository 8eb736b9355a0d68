/**
 * Membership costs: folding a net's records into its member set (what every
 * node does on every change), verifying one record, and one pairwise PSK
 * exchange. Run: `deno bench --allow-all bench/membership_bench.ts`.
 *
 * @module
 */
import {
  admitRecord,
  inviteFor,
  makeNet,
  memberRequest,
  revokeRecord,
  testNode,
} from "../modules/membership/_testing_net.ts";
import {
  decapsulatePsk,
  encapsulatePsk,
  foldMembers,
  kemKeyPair,
  type MemberRecord,
  parseRecord,
} from "../modules/membership/mod.ts";

/** A net of `members` members, each admitted by the founder (a chain of records), one revoked. */
async function netOf(members: number): Promise<MemberRecord[]> {
  const net = await makeNet({ cidr: "10.0.0.0/16" });
  let parent = net.records[1].id;
  for (let i = 1; i < members; i++) {
    const node = await testNode();
    const invite = await inviteFor(net.founder, net.net, { uses: 1 });
    const rec = await admitRecord(
      net.founder,
      net.net,
      await memberRequest(node, net.net, { invite }),
      `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      [parent],
    );
    net.records.push(rec);
    parent = rec.id;
  }
  const last = net.records[net.records.length - 1];
  const target = last.kind === "admit" ? last.request.id : "";
  net.records.push(
    await revokeRecord(net.founder, net.net, { id: target, admit: last.id }, [parent]),
  );
  return net.records;
}

const nets = new Map<number, MemberRecord[]>();
for (const n of [20, 200, 1000]) nets.set(n, await netOf(n));

for (const [n, records] of nets) {
  Deno.bench(`fold a net of ${n} members (${records.length} records)`, { group: "fold" }, () => {
    foldMembers(records);
  });
}

const sample = nets.get(20)![5];
Deno.bench(
  "verify one admit record (decode, 5 signatures: record, request, WireGuard key, invite, invite key)",
  async () => {
    await parseRecord(sample.bytes);
  },
);

const peer = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
Deno.bench("one pairwise PSK (ML-KEM-768+X25519 both sides, HKDF)", async () => {
  const sent = await encapsulatePsk(peer.publicKey, { net: "n", self: "a", peer: "b" });
  await decapsulatePsk(sent.cipherText, peer.secretKey, { net: "n", self: "b", peer: "a" });
});
