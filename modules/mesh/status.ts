/**
 * One net's status for `grid status`: pure, from the member set, the
 * members' announcements and the parsed `wg show IF dump` (which the
 * WireGuard layer stripped of every private key and PSK), so nothing secret
 * can reach the output.
 *
 * @module
 */
import { ipv6Prefix, memberReach, type NetState } from "../membership/mod.ts";
import type { WgDump } from "../wireguard/mod.ts";
import type { FormerMember, NetStatus, PeerStatus, SelfStatus } from "./protocol.ts";

/** The most characters of a peer's `why` in a report (the status shape's bound). */
export const MAX_WHY_CHARS = 300;

/**
 * A path with its reason cut to {@link MAX_WHY_CHARS}: reasons name peers and
 * quote their refusals, so a chain of them can run past the report's bound,
 * which a reader would then refuse whole.
 */
export function boundedWhy(
  p: Pick<PeerStatus, "path" | "via" | "why">,
): Pick<PeerStatus, "path" | "via" | "why"> {
  if (p.why === null || p.why.length <= MAX_WHY_CHARS) return p;
  return { ...p, why: `${p.why.slice(0, MAX_WHY_CHARS - 1)}…` };
}

/** What {@link netStatus} knows beyond the records: the interface, and the grid links. */
export interface InterfaceFacts {
  /** Its parsed `wg show IF dump`; undefined when it cannot be read (missing, or not WireGuard). */
  dump: WgDump | undefined;
  /** True when the link exists and carries the UP flag (`ip -j link`). */
  up: boolean;
  /** True when a link of the interface's name exists (default: when it is up or readable). */
  exists?: boolean;
  /** Peers with a grid link up now. */
  connected?: ReadonlySet<string>;
  /** When a peer last gave a sign of life on the grid (ms since the epoch). */
  lastHeard?: (id: string) => number | undefined;
  /** Whether a peer held the same records at the last exchange. */
  records?: (id: string) => "same" | "differ" | undefined;
  /** How WireGuard reaches a peer (none: read from disk, no agent). */
  path?: (id: string) => Pick<PeerStatus, "path" | "via" | "why">;
}

function seconds(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.floor(ms / 1000);
}

/** The status of `state` as seen by node `selfId`, with what is known of its interface. */
export function netStatus(state: NetState, selfId: string, facts: InterfaceFacts): NetStatus {
  const { dump } = facts;
  const set = state.set;
  const self = set.members.get(selfId);
  const byKey = new Map((dump?.peers ?? []).map((p) => [p.publicKey, p]));
  const peers: PeerStatus[] = [...set.members.values()]
    .filter((m) => m.id !== selfId && m.status === "live")
    .sort((a, b) => a.address.localeCompare(b.address, "en", { numeric: true }))
    .map((m) => {
      const wg = byKey.get(m.wg);
      return {
        id: m.id,
        name: m.name,
        address: m.address,
        address6: m.address6,
        endpoint: wg?.endpoint ?? memberReach(state, m).endpoint ?? null,
        latestHandshake: wg?.latestHandshake ?? null,
        rxBytes: wg?.rxBytes ?? 0,
        txBytes: wg?.txBytes ?? 0,
        configured: wg !== undefined,
        psk: wg?.presharedKeyHash !== undefined,
        role: m.role,
        link: facts.connected?.has(m.id) ? "up" : "down",
        lastHeard: seconds(facts.lastHeard?.(m.id)),
        records: facts.records?.(m.id) ?? "unknown",
        ...boundedWhy(facts.path?.(m.id) ?? offlinePath(wg?.latestHandshake)),
      };
    });
  const gone: FormerMember[] = [];
  for (const m of set.members.values()) {
    if (m.status === "live") continue;
    gone.push({
      id: m.id,
      name: m.name,
      address: m.address,
      address6: m.address6,
      status: m.status,
      revokedBy: m.revokedBy ?? null,
    });
  }
  const notice = state.settings.revoked;
  // e.g. an admit voided by a used-up invite, or a revoke told to this node alone
  const status: SelfStatus = notice ? "revoked" : set.status.get(selfId) ?? "not-admitted";
  return {
    name: state.settings.name,
    id: state.settings.net,
    status,
    role: self?.role ?? "member",
    revokedBy: notice?.by ?? self?.revokedBy ?? null,
    interface: state.settings.interface,
    interfaceUp: facts.up && dump !== undefined,
    interfaceState: facts.up && dump !== undefined
      ? "up"
      : (facts.exists ?? (facts.up || dump !== undefined))
      ? "down"
      : "missing",
    self: self?.name ?? null,
    address: self?.address ?? null,
    address6: self?.address6 ?? null,
    cidr: set.net.cidr.text,
    cidr6: ipv6Prefix(set.net.id),
    policy: set.net.policy,
    psk: set.net.psk,
    inviteBy: set.net.invite,
    listenPort: state.settings.listenPort,
    endpoint: (self && memberReach(state, self).endpoint) ?? null,
    members: [...set.members.values()].filter((m) => m.status === "live").length,
    records: state.records.size,
    peers,
    former: gone,
  };
}

/** Without an agent nothing arranges paths: a fresh handshake says direct, else unknown. */
function offlinePath(
  latestHandshake: number | undefined,
): Pick<PeerStatus, "path" | "via" | "why"> {
  const fresh = latestHandshake !== undefined && Date.now() / 1000 - latestHandshake < 180;
  return fresh
    ? { path: "direct", via: null, why: null }
    : { path: "unreachable", via: null, why: "no agent is running to find a path" };
}
