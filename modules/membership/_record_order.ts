/**
 * Records in an order a receiver can take them in one pass: every record
 * after its parents (ties by hash), so a joiner or a replica never holds a
 * record whose parents have not arrived yet.
 *
 * @module
 */
import type { MemberRecord } from "./records.ts";

/** The bytes of `records` (by id), parents before children, roots in hash order. */
export function parentsFirst(records: ReadonlyMap<string, MemberRecord>): Uint8Array[] {
  const out: Uint8Array[] = [];
  const done = new Set<string>();
  const visit = (id: string) => {
    const stack = [id];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (done.has(top)) {
        stack.pop();
        continue;
      }
      const r = records.get(top);
      if (!r) {
        stack.pop();
        continue;
      }
      const todo = r.parents.filter((p) => !done.has(p) && records.has(p));
      if (todo.length > 0) stack.push(...todo);
      else {
        stack.pop();
        done.add(top);
        out.push(r.bytes);
      }
    }
  };
  for (const id of [...records.keys()].sort()) visit(id);
  return out;
}
