/**
 * What the dashboard and the metrics show: one snapshot of the node, made of
 * the same {@link StatusReport} `grid status --json` prints (reused, not
 * re-derived), each net's membership history read from its signed records,
 * the promises the node accepts, and the engine's running totals. The
 * history holds names, ids, times and kinds only: no key of any kind.
 *
 * @module
 */
import { hashToText, type KnownPromise } from "../../kernel/mod.ts";
import type { MemberRecord, NetState } from "../membership/mod.ts";
import type { Mesh, MeshCounters, StatusReport } from "../mesh/mod.ts";

/** The most history entries kept per net (newest first). */
export const HISTORY_LIMIT = 200;

/** One membership event, from one signed record. */
export interface HistoryEntry {
  /** The record's time (the signer's clock), ms since the epoch. */
  time: number;
  /** What happened: a net founded, a member admitted, left, revoked, or given a role. */
  kind: "genesis" | "admit" | "left" | "revoked" | "role";
  /** The member it is about: its name (or the start of its id when unknown). */
  member: string;
  /** That member's node id. */
  memberId: string;
  /** Who signed the record: a name (or the start of an id). */
  by: string;
  /** The signer's node id. */
  byId: string;
  /** More: the tunnel address admitted, the role given, the reason for a revoke. */
  detail: string | null;
}

/** One net's history. */
export interface NetHistory {
  /** Net name. */
  net: string;
  /** Newest first, at most {@link HISTORY_LIMIT}. */
  entries: HistoryEntry[];
}

/** A promise the node accepts. */
export interface PromiseInfo {
  /** Its hash (text). */
  hash: string;
  /** Its text. */
  text: string;
}

/** Everything the dashboard shows at one moment. */
export interface DashboardSnapshot {
  /** When it was taken, ms since the epoch. */
  at: number;
  /** This node's status, as `grid status --json` prints it. */
  report: StatusReport;
  /** Each net's membership history. */
  history: NetHistory[];
  /** The promises this node accepts. */
  promises: PromiseInfo[];
  /** The mesh engine's totals. */
  counters: MeshCounters;
  /** The agent's resident memory, in bytes. */
  rssBytes: number;
}

/** Where snapshots come from (the agent's mesh; tests give fixed ones). */
export interface DashboardSource {
  /** Takes a snapshot now. */
  snapshot(): Promise<DashboardSnapshot>;
}

/** A source reading the agent's own mesh engine and kernel, in this process. */
export function meshSource(mesh: Mesh, promises: () => KnownPromise[]): DashboardSource {
  return {
    async snapshot(): Promise<DashboardSnapshot> {
      const report = await mesh.status({});
      const history: NetHistory[] = [];
      for (const name of mesh.nets.names()) {
        const state = mesh.nets.get(name);
        if (state) history.push({ net: name, entries: netHistory(state) });
      }
      return {
        at: Date.now(),
        report,
        history,
        promises: promises().map((p) => ({ hash: hashToText(p.cid), text: p.text })),
        counters: mesh.counters(),
        rssBytes: Deno.memoryUsage().rss,
      };
    },
  };
}

/** A net's membership events, newest first, from its records (pure). */
export function netHistory(state: NetState, limit = HISTORY_LIMIT): HistoryEntry[] {
  const members = state.set.members;
  const byAdmit = new Map([...members.values()].map((m) => [m.admit, m]));
  const nameOf = (id: string) => members.get(id)?.name ?? id.slice(0, 12);
  const entries = [...state.records.values()].map((r) => entryOf(r, nameOf, byAdmit));
  return entries.sort((a, b) => b.time - a.time).slice(0, limit);
}

function entryOf(
  r: MemberRecord,
  nameOf: (id: string) => string,
  byAdmit: Map<string, { id: string; name: string }>,
): HistoryEntry {
  const base = { time: r.time, by: nameOf(r.author), byId: r.author };
  switch (r.kind) {
    case "genesis":
      return {
        ...base,
        kind: r.kind,
        member: nameOf(r.author),
        memberId: r.author,
        detail: r.name,
      };
    case "admit": {
      const m = byAdmit.get(r.id);
      const id = m?.id ?? "";
      return {
        ...base,
        kind: r.kind,
        member: m?.name ?? r.request.name,
        memberId: id,
        detail: r.address,
      };
    }
    case "left":
      return { ...base, kind: r.kind, member: nameOf(r.author), memberId: r.author, detail: null };
    case "revoked":
      return {
        ...base,
        kind: r.kind,
        member: nameOf(r.member),
        memberId: r.member,
        detail: [r.lineage ? "with lineage" : "", r.reason ?? ""].filter(Boolean).join("; ") ||
          null,
      };
    case "role":
      return {
        ...base,
        kind: r.kind,
        member: nameOf(r.member),
        memberId: r.member,
        detail: r.slice ? `${r.role} ${r.slice}` : r.role,
      };
  }
}
