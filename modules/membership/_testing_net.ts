/**
 * Test helpers: nodes (an identity and a real WireGuard key pair), records,
 * invites and member requests for a small net, made in memory. Used by the
 * unit tests in this folder and by modules/mesh/.
 *
 * @module
 */
import { generateIdentity, hashText, type Identity } from "../../kernel/mod.ts";
import { newWgPrivateKey, signWithWgKey, wgPublicKeyOf } from "../wireguard/mod.ts";
import { type InvitePolicy, type MemberRecord, type NetPolicy, signRecord } from "./records.ts";
import { type MemberRequest, signMemberRequest } from "./member_request.ts";
import { foldMembers, type MemberSet } from "./member_set.ts";
import { createInvite, type InviteToken } from "./invite.ts";

/** A stand-in join promise hash for tests. */
export const TEST_PROMISE = hashText("test join promise");
/** A bootstrap URL for test invites. */
export const TEST_URL = "ws://127.0.0.1:4100";

/** A node: its identity and its WireGuard key pair. */
export interface TestNode {
  /** The node identity (signs records, requests, invites). */
  identity: Identity;
  /** Its WireGuard private key (base64), which signs the key proof. */
  wgSecret: string;
  /** Its WireGuard public key. */
  wg: string;
  /** The node id. */
  id: string;
}

/** A fresh node. */
export async function testNode(): Promise<TestNode> {
  const identity = await generateIdentity();
  const wgSecret = newWgPrivateKey();
  return { identity, wgSecret, wg: wgPublicKeyOf(wgSecret), id: identity.id };
}

/** A net in memory: founder, records so far. */
export interface TestNet {
  /** The founding member. */
  founder: TestNode;
  /** The net id (its genesis hash). */
  net: string;
  /** Records so far; push more to grow the net. */
  records: MemberRecord[];
  /** The member set folded from `records`. */
  set(): MemberSet;
  /** The ids of the current heads. */
  heads(): string[];
}

/** Options for {@link makeNet}. */
export interface MakeNetOptions {
  /** Open, or invite only (default). */
  policy?: NetPolicy;
  /** Address block (default 10.77.0.0/16). */
  cidr?: string;
  /** PSK net. */
  psk?: boolean;
  /** Who may invite (default members). */
  invite?: InvitePolicy;
}

/** Creates a net with its founder admitted at 10.77.0.1 (or the block's first host). */
export async function makeNet(options: MakeNetOptions = {}): Promise<TestNet> {
  const founder = await testNode();
  const cidr = options.cidr ?? "10.77.0.0/16";
  const genesis = await signRecord(founder.identity, {
    kind: "genesis",
    name: "testnet",
    cidr,
    policy: options.policy ?? "invite",
    psk: options.psk ?? false,
    invite: options.invite ?? "members",
  }, { time: 1000 });
  const request = await memberRequest(founder, genesis.id, { time: 1000 });
  const first = cidr.replace(/\.0\/\d+$/, ".1");
  const admit = await signRecord(founder.identity, { kind: "admit", request, address: first }, {
    net: genesis.id,
    parents: [genesis.id],
    time: 1001,
  });
  const records: MemberRecord[] = [genesis, admit];
  return {
    founder,
    net: genesis.id,
    records,
    set: () => foldMembers(records),
    heads: () => foldMembers(records).heads,
  };
}

/** A signed member request of `node` for `net` (with the invite's proof when given). */
export async function memberRequest(
  node: TestNode,
  net: string,
  options: { invite?: InviteToken; name?: string; time?: number; netName?: string } = {},
): Promise<MemberRequest> {
  return await signMemberRequest(node.identity, {
    net,
    netName: options.netName ?? "testnet",
    name: options.name ?? "n" + node.id.slice(-6),
    wg: node.wg,
    promise: TEST_PROMISE,
    time: options.time ?? 2000,
  }, {
    signWithWgKey: (message) => signWithWgKey(node.wgSecret, message),
    invite: options.invite
      ? { bytes: options.invite.invite.bytes, seed: options.invite.seed }
      : undefined,
  });
}

/** An invite to `net` by `by`, redeemed by `admin` (default: `by`). */
export async function inviteFor(
  by: TestNode,
  net: string,
  options: { admin?: TestNode; uses?: number; ttlMs?: number; now?: number } = {},
): Promise<InviteToken> {
  return await createInvite(by.identity, {
    net,
    netName: "testnet",
    urls: [TEST_URL],
    admin: (options.admin ?? by).id,
    uses: options.uses,
    ttlMs: options.ttlMs,
    now: options.now ?? 0,
  });
}

/** Signs an admit of `request` by `author` on top of `parents`. */
export async function admitRecord(
  author: TestNode,
  net: string,
  request: MemberRequest,
  address: string,
  parents: string[],
  time = 3000,
): Promise<MemberRecord> {
  return await signRecord(author.identity, { kind: "admit", request, address }, {
    net,
    parents,
    time,
  });
}

/** A fresh node invited by `inviter`, admitted by `admin` (default: the inviter) at `address`. */
export async function admitNew(
  net: TestNet,
  options: { admin?: TestNode; inviter?: TestNode; address: string; parents?: string[] },
): Promise<{ node: TestNode; record: MemberRecord }> {
  const node = await testNode();
  const admin = options.admin ?? net.founder;
  const inviter = options.inviter ?? admin;
  const invite = await inviteFor(inviter, net.net, { admin });
  const request = await memberRequest(node, net.net, { invite });
  const record = await admitRecord(
    admin,
    net.net,
    request,
    options.address,
    options.parents ?? net.heads(),
  );
  return { node, record };
}

/** The founder grants (or removes) admin rights; `member` names the member's admit. */
export async function roleRecord(
  founder: TestNode,
  net: string,
  member: { id: string; admit: string },
  role: "admin" | "member",
  slice: string | undefined,
  parents: string[],
  author: TestNode = founder,
): Promise<MemberRecord> {
  return await signRecord(author.identity, {
    kind: "role",
    member: member.id,
    admit: member.admit,
    role,
    slice,
  }, { net, parents, time: 4000 });
}

/** A revoke of `target` (its id and admit) by `author`. */
export async function revokeRecord(
  author: TestNode,
  net: string,
  target: { id: string; admit: string },
  parents: string[],
  lineage = false,
): Promise<MemberRecord> {
  return await signRecord(author.identity, {
    kind: "revoked",
    member: target.id,
    admit: target.admit,
    lineage,
  }, { net, parents, time: 5000 });
}

/** A leave by `author`. */
export async function leftRecord(
  author: TestNode,
  net: string,
  parents: string[],
): Promise<MemberRecord> {
  return await signRecord(author.identity, { kind: "left" }, { net, parents, time: 5000 });
}

/** All permutations of a small array (n ≤ 6). */
export function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}

/** `items` in a random order (seeded, so a failure can be replayed). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
