/**
 * Which new records a net takes in, pure: a record enters once all its
 * parents are in, if it is no second genesis, its author was admitted, and
 * the net is under its record cap (admits stop at the cap; leaves, revokes
 * and endpoints get room beyond it, so a flood of joins can never keep a
 * revoke from being recorded). Records whose parents have not arrived wait,
 * at most {@link MAX_PENDING} of them.
 *
 * @module
 */
import type { MemberRecord } from "./records.ts";
import { MAX_RECORDS_PER_NET } from "./protocol.ts";

/** Most records held while waiting for their parents. */
export const MAX_PENDING = 1024;

/** What {@link planIntake} looks at. */
export interface IntakeInput {
  /** The net's name, for messages. */
  netName: string;
  /** The founder's id (the first author). */
  founder: string;
  /** The records the net holds, by id. */
  records: ReadonlyMap<string, MemberRecord>;
  /** Records waiting for their parents, by id. */
  pending: ReadonlyMap<string, MemberRecord>;
  /** Records just received (verified, not yet held or pending). */
  fresh: MemberRecord[];
}

/** What {@link planIntake} decides. */
export interface IntakePlan {
  /** Records to take in, in an order where parents come first. */
  added: MemberRecord[];
  /** Why each refused record was refused. */
  refused: string[];
  /** Records that wait for their parents (the newest {@link MAX_PENDING}). */
  waiting: MemberRecord[];
  /** Ids of the parents they wait for. */
  missing: string[];
}

/** Decides which of the pending and fresh records the net takes in. */
export function planIntake(input: IntakeInput): IntakePlan {
  const { records } = input;
  const pool = new Map<string, MemberRecord>(input.pending);
  for (const r of input.fresh) pool.set(r.id, r);
  const authors = new Set<string>([input.founder]);
  for (const r of records.values()) if (r.kind === "admit") authors.add(r.request.id);
  const taken = new Set<string>();
  const held = (id: string): boolean => records.has(id) || taken.has(id);
  const added: MemberRecord[] = [];
  const refused: string[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const r of pool.values()) {
      if (!r.parents.every(held)) continue;
      pool.delete(r.id);
      progress = true;
      if (r.kind === "genesis") {
        refused.push(`Record "${r.id}" is a second genesis`);
        continue;
      }
      if (!authors.has(r.author)) {
        refused.push(`Record "${r.id}" is signed by "${r.author}", who is not a member`);
        continue;
      }
      const cap = r.kind === "admit" ? MAX_RECORDS_PER_NET : 2 * MAX_RECORDS_PER_NET;
      if (records.size + added.length >= cap) {
        refused.push(`Net "${input.netName}" holds ${cap} records already`);
        continue;
      }
      taken.add(r.id);
      if (r.kind === "admit") authors.add(r.request.id);
      added.push(r);
    }
  }
  const waiting = [...pool.values()].slice(-MAX_PENDING);
  const missing = [
    ...new Set(waiting.flatMap((r) => r.parents.filter((p) => !held(p) && !pool.has(p)))),
  ];
  return { added, refused, waiting, missing };
}
