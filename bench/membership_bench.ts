/**
 * Membership costs: folding a net's records into its member set (what every
 * node does on every change), verifying one record, and one pairwise PSK
 * exchange. Run: `deno bench --allow-all bench/membership_bench.ts`.
 *
 * @module
 */
import { generateIdentity } from "../kernel/mod.ts";
import { admitRecord, makeNet, memberRequest } from "../modules/membership/_testing_net.ts";
import {
  createInvite,
  decapsulatePsk,
  encapsulatePsk,
  foldMembers,
  kemKeyPair,
  type MemberRecord,
  parseRecord,
  signRecord,
} from "../modules/membership/mod.ts";

/** A net of `members` members, each admitted by the previous member (a chain of records). */
async function netOf(members: number): Promise<MemberRecord[]> {
  const net = await makeNet({ cidr: "10.0.0.0/16" });
  let parent = net.records[1].id;
  let admitter = net.founder;
  for (let i = 1; i < members; i++) {
    const node = await generateIdentity();
    const invite = await createInvite(admitter, {
      net: net.net,
      netName: "testnet",
      urls: ["ws://h:1"],
      now: 0,
    });
    const rec = await admitRecord(
      admitter,
      net.net,
      await memberRequest(node, net.net, { invite }),
      `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      [parent],
    );
    net.records.push(rec);
    parent = rec.id;
    admitter = node;
  }
  const revoke = await signRecord(admitter, { kind: "endpoint", endpoint: "10.9.9.9:51820" }, {
    net: net.net,
    parents: [parent],
  });
  net.records.push(revoke);
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
Deno.bench("verify one admit record (decode, 3 signatures: record, request, invite)", async () => {
  await parseRecord(sample.bytes);
});

const peer = kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
Deno.bench("one pairwise PSK (ML-KEM-768+X25519 both sides, HKDF)", async () => {
  const sent = await encapsulatePsk(peer.publicKey, { net: "n", self: "a", peer: "b" });
  await decapsulatePsk(sent.cipherText, peer.secretKey, { net: "n", self: "b", peer: "a" });
});
