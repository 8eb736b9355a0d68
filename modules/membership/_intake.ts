/**
 * Which new records a net takes in, pure: a record enters once all its
 * parents are in, if it is no second genesis, its author was admitted (or
 * founded the net), and the net is under its record cap. Whether the author
 * had the right to sign it is the fold's part, the same on every node.
 *
 * Records whose parents have not arrived wait, but only a few per peer that
 * sent them, and only when their author is known here: a stranger's records
 * are refused now and fetched again by anti-entropy once their ancestors
 * (the author's admit among them) are in. So one peer cannot fill the
 * waiting room and push out another's records.
 *
 * @module
 */
import type { MemberRecord } from "./records.ts";
import { MAX_RECORDS_PER_NET } from "./protocol.ts";

/** Most records held while waiting for their parents. */
export const MAX_PENDING = 1024;
/** Room kept under the record cap for what is not an admit (leaves, revokes, role changes). */
export const RESERVED_RECORDS = 1024;
/** Most waiting records that came from one peer. */
export const MAX_PENDING_PER_PEER = 64;

/** A record waiting for its parents, and the peer it came from ("" for this node or disk). */
export interface Waiting {
  /** The record. */
  record: MemberRecord;
  /** Who sent it. */
  from: string;
}

/** What {@link planIntake} looks at. */
export interface IntakeInput {
  /** The net's name, for messages. */
  netName: string;
  /** The founder's id (the first author). */
  founder: string;
  /** Nodes ever granted admin rights, as this node knows them (they may sign admits and revokes). */
  admins?: ReadonlySet<string>;
  /** Whether a node is a live member now (only a live member may sign its leave). */
  isLive?: (id: string) => boolean;
  /** The records the net holds, by id. */
  records: ReadonlyMap<string, MemberRecord>;
  /** Records waiting for their parents, by id. */
  pending: ReadonlyMap<string, Waiting>;
  /** Records just received (verified, not yet held or pending). */
  fresh: MemberRecord[];
  /** The peer they came from ("" for this node or disk). */
  from: string;
}

/** What {@link planIntake} decides. */
export interface IntakePlan {
  /** Records to take in, in an order where parents come first. */
  added: MemberRecord[];
  /** Why each refused record was refused. */
  refused: string[];
  /** Records that wait for their parents. */
  waiting: Waiting[];
  /** Ids of the parents they wait for. */
  missing: string[];
}

/** The authors a record may have: the founder and every node some admit names. */
function knownAuthors(founder: string, records: Iterable<MemberRecord>): Set<string> {
  const authors = new Set<string>([founder]);
  for (const r of records) if (r.kind === "admit") authors.add(r.request.id);
  return authors;
}

/**
 * Why `r`'s author could not have the right to sign it as this node knows the
 * net, or undefined. Only the founder signs roles; only the founder and nodes
 * granted admin rights sign admits and revokes; a leave comes from a live
 * member. A refusal here is not final: anti-entropy offers the record again,
 * and once the grant (or the admit) that entitles it is in, it is taken. So
 * a plain member adds at most its own leave to everyone's records, whatever
 * it signs; the fold still decides every record's effect.
 */
function rightProblem(input: IntakeInput, r: MemberRecord): string | undefined {
  if (r.author === input.founder) return undefined;
  switch (r.kind) {
    case "role":
      return "only the founder names admins";
    case "admit":
    case "revoked":
      return input.admins === undefined || input.admins.has(r.author)
        ? undefined
        : "its author is not an admin";
    case "left":
      return input.isLive === undefined || input.isLive(r.author)
        ? undefined
        : "its author is not a live member";
  }
  return undefined;
}

/** Decides which of the pending and fresh records the net takes in. */
export function planIntake(input: IntakeInput): IntakePlan {
  const { records } = input;
  const refused: string[] = [];
  const pool = new Map<string, Waiting>(input.pending);
  const authors = knownAuthors(input.founder, records.values());
  // Admits in the same batch may introduce authors of later records in it.
  for (const r of input.fresh) if (r.kind === "admit") authors.add(r.request.id);
  for (const w of input.pending.values()) {
    if (w.record.kind === "admit") authors.add(w.record.request.id);
  }
  // Grants and admits in the same batch count for the records beside them.
  const batch = [...input.fresh, ...[...input.pending.values()].map((w) => w.record)];
  const admins = input.admins && new Set(input.admins);
  const admitted = new Set<string>();
  for (const r of batch) {
    if (r.kind === "role" && r.author === input.founder && r.role === "admin") {
      admins?.add(r.member);
    }
    if (r.kind === "admit") admitted.add(r.request.id);
  }
  const rights: IntakeInput = {
    ...input,
    admins,
    isLive: input.isLive && ((id) => input.isLive!(id) || admitted.has(id)),
  };
  for (const r of input.fresh) {
    if (!authors.has(r.author)) {
      refused.push(`Record "${r.id}" is signed by "${r.author}", who is not a member`);
      continue;
    }
    const why = rightProblem(rights, r);
    if (why) {
      refused.push(`Record "${r.id}" (${r.kind}) is refused: ${why}`);
      continue;
    }
    pool.set(r.id, { record: r, from: input.from });
  }
  const taken = new Set<string>();
  const held = (id: string): boolean => records.has(id) || taken.has(id);
  const added: MemberRecord[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const w of pool.values()) {
      const r = w.record;
      if (!r.parents.every(held)) continue;
      pool.delete(r.id);
      progress = true;
      if (r.kind === "genesis") {
        refused.push(`Record "${r.id}" is a second genesis`);
        continue;
      }
      // Admits stop short of the cap: leaves, revokes and role changes always have room.
      const cap = r.kind === "admit" ? MAX_RECORDS_PER_NET - RESERVED_RECORDS : MAX_RECORDS_PER_NET;
      if (records.size + added.length >= cap) {
        refused.push(`Net "${input.netName}" holds ${cap} records already`);
        continue;
      }
      taken.add(r.id);
      added.push(r);
    }
  }
  // What still waits: the newest, at most MAX_PENDING_PER_PEER per sender, MAX_PENDING in all.
  const perPeer = new Map<string, number>();
  const waiting: Waiting[] = [];
  for (const w of [...pool.values()].reverse()) {
    const n = perPeer.get(w.from) ?? 0;
    if (w.from !== "" && n >= MAX_PENDING_PER_PEER) continue;
    perPeer.set(w.from, n + 1);
    waiting.push(w);
    if (waiting.length >= MAX_PENDING) break;
  }
  waiting.reverse();
  const missing = [
    ...new Set(waiting.flatMap((w) => w.record.parents.filter((p) => !held(p) && !pool.has(p)))),
  ];
  return { added, refused, waiting, missing };
}
