/**
 * Test helpers: identities, WireGuard-like keys and records for a small net,
 * made in memory. Used by the unit tests in this folder only.
 *
 * @module
 */
import { generateIdentity, hashText, type Identity } from "../../kernel/mod.ts";
import { type MemberRecord, type NetPolicy, signRecord } from "./records.ts";
import { type MemberRequest, signMemberRequest } from "./member_request.ts";
import { foldMembers, type MemberSet } from "./member_set.ts";
import type { Invite } from "./invite.ts";

/** A stand-in join promise hash for tests. */
export const TEST_PROMISE = hashText("test join promise");

/** A random base64 32-byte key shaped like a WireGuard public key. */
export function fakeWgKey(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64();
}

/** A net in memory: founder, records so far. */
export interface TestNet {
  /** The founding member. */
  founder: Identity;
  /** The net id (its genesis hash). */
  net: string;
  /** Records so far; push more to grow the net. */
  records: MemberRecord[];
  /** The member set folded from `records`. */
  set(): MemberSet;
}

/** Creates a net with its founder admitted at the CIDR's candidate address. */
export async function makeNet(
  options: { policy?: NetPolicy; cidr?: string; psk?: boolean } = {},
): Promise<TestNet> {
  const founder = await generateIdentity();
  const genesis = await signRecord(founder, {
    kind: "genesis",
    name: "testnet",
    cidr: options.cidr ?? "10.77.0.0/16",
    policy: options.policy ?? "invite",
    psk: options.psk ?? false,
  }, { time: 1000 });
  const request = await memberRequest(founder, genesis.id, {});
  const admit = await signRecord(founder, { kind: "admit", request, address: "10.77.0.1" }, {
    net: genesis.id,
    parents: [genesis.id],
    time: 1001,
  });
  const records: MemberRecord[] = [genesis, admit];
  return { founder, net: genesis.id, records, set: () => foldMembers(records) };
}

/** A signed member request for `net`. */
export async function memberRequest(
  identity: Identity,
  net: string,
  options: { invite?: Invite; wg?: string; name?: string; time?: number },
): Promise<MemberRequest> {
  return await signMemberRequest(identity, {
    net,
    netName: "testnet",
    name: options.name ?? "n" + identity.id.slice(-6),
    wg: options.wg ?? fakeWgKey(),
    promise: TEST_PROMISE,
    time: options.time ?? 2000,
    invite: options.invite?.bytes,
  });
}

/** Signs an admit of `request` by `author` on top of `parents`. */
export async function admitRecord(
  author: Identity,
  net: string,
  request: MemberRequest,
  address: string,
  parents: string[],
  time = 3000,
): Promise<MemberRecord> {
  return await signRecord(author, { kind: "admit", request, address }, { net, parents, time });
}

/** All permutations of a small array (n ≤ 6). */
export function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}
