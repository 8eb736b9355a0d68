/**
 * Reflexive endpoints without a STUN server: every member tells the others
 * where it sees its peers (the endpoint WireGuard learned from a peer's
 * authenticated packets is the public side of the peer's NAT), in its signed
 * announcement, and anyone can then rank where a member may be reached
 * besides the endpoint it announced itself. Two observers that see one
 * member's address with different ports mean its NAT maps per destination
 * (symmetric): punching through it is pointless, a relay is needed.
 *
 * Pure: the mesh service feeds it the member set, announcements and
 * `wg show dump`.
 *
 * @module
 */
import { isLive, memberReach, type NetState, type Observation } from "../membership/mod.ts";
import { isIpv4, isIpv6, type WgDump } from "../wireguard/mod.ts";
import { canonicalIpv6, mappedIpv4 } from "../../kernel/peers/mod.ts";

/** An observation counts while the observer's handshake with the peer is this recent. */
export const OBSERVATION_FRESH_SECONDS = 180;
/** Most candidates ranked for one member. */
export const MAX_RANKED = 8;

/** How a member's NAT maps its WireGuard port, as far as observers can tell. */
export type NatKind = "cone" | "symmetric" | "unknown";

/** Where a member may be reached besides its own announced endpoint, best first. */
export interface Candidates {
  /** `host:port` endpoints, best first (at most {@link MAX_RANKED}). */
  readonly endpoints: string[];
  /** What the observations say about its NAT. */
  readonly nat: NatKind;
}

/** `host:port` split, IPv6 hosts without brackets; undefined for anything but an IP literal. */
export function splitEndpoint(endpoint: string): { host: string; port: number } | undefined {
  const i = endpoint.lastIndexOf(":");
  if (i <= 0) return undefined;
  let host = endpoint.slice(0, i);
  const port = Number(endpoint.slice(i + 1));
  if (!/^[0-9]{1,5}$/.test(endpoint.slice(i + 1)) || port < 1 || port > 65535) return undefined;
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    return isIpv6(host) ? { host, port } : undefined;
  }
  return isIpv4(host) ? { host, port } : undefined;
}

/**
 * Whether a peer could send WireGuard packets to `endpoint`: an IP literal
 * with a port, not loopback, unspecified, multicast, broadcast or link-local
 * (169.254/16 holds cloud metadata services), however it is written (IPv6
 * is read in its canonical form, and an IPv4-mapped one by the IPv4 rules),
 * so a member cannot make others aim handshakes at themselves, a subnet or
 * a local service.
 */
export function isReachableEndpoint(endpoint: string): boolean {
  const parts = splitEndpoint(endpoint);
  if (!parts) return false;
  let host = parts.host;
  if (host.includes(":")) {
    const canonical = canonicalIpv6(host);
    if (canonical === undefined) return false;
    const v4 = mappedIpv4(canonical);
    if (v4 === undefined) {
      if (canonical === "::" || canonical === "::1") return false;
      return !/^ff/.test(canonical) && !/^fe[89ab]/.test(canonical);
    }
    host = v4;
  }
  const [a, b] = host.split(".").map(Number);
  return a !== 0 && a !== 127 && a < 224 && !(a === 169 && b === 254);
}

/**
 * What this node reports about the peers of net `state`: for each live
 * member whose WireGuard handshake with us is fresh, the endpoint WireGuard
 * sees it at, when that differs from the endpoint it announced (so behind a
 * NAT: the NAT's public side); else, for a member on a grid link with us,
 * the link's address with the member's WireGuard port (`via: "link"`).
 * Relay ends (loopback) are never reported.
 */
export function observePeers(
  state: NetState,
  selfId: string,
  dump: WgDump | undefined,
  nowSeconds: number,
  linkAddress: (id: string) => string | undefined = () => undefined,
): Observation[] {
  const byKey = new Map((dump?.peers ?? []).map((p) => [p.publicKey, p]));
  const out: Observation[] = [];
  for (const m of state.set.members.values()) {
    if (m.status !== "live" || m.id === selfId) continue;
    const announced = memberReach(state, m).endpoint;
    const wg = byKey.get(m.wg);
    const fresh = wg?.latestHandshake !== undefined &&
      nowSeconds - wg.latestHandshake <= OBSERVATION_FRESH_SECONDS;
    if (fresh && wg?.endpoint && isReachableEndpoint(wg.endpoint)) {
      if (wg.endpoint !== announced) out.push({ member: m.id, endpoint: wg.endpoint });
      continue;
    }
    const address = linkAddress(m.id);
    const port = announced ? splitEndpoint(announced)?.port : undefined;
    if (address === undefined || port === undefined) continue;
    const endpoint = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    if (endpoint !== announced && isReachableEndpoint(endpoint)) {
      out.push({ member: m.id, endpoint, via: "link" });
    }
  }
  return out.sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}

/**
 * Where member `id` may be reached, from the latest announcement of every
 * other live member, best first: endpoints WireGuard saw, by how many
 * observers agree, then grid-link guesses; `first` (what the asking node
 * itself sees right now) leads. When nobody saw it anywhere else, its own
 * announced endpoint (a member with a public address: worth punching too,
 * through a stateful firewall, and the way back from a relay).
 */
export function candidatesFor(state: NetState, id: string, first: string[] = []): Candidates {
  const wg = new Map<string, Set<string>>();
  const link = new Map<string, Set<string>>();
  for (const a of state.announcements.all()) {
    if (a.author === id || !isLive(state.set, a.author)) continue;
    for (const o of a.observed ?? []) {
      if (o.member !== id || !isReachableEndpoint(o.endpoint)) continue;
      const table = o.via === "link" ? link : wg;
      const seen = table.get(o.endpoint) ?? new Set<string>();
      seen.add(a.author);
      table.set(o.endpoint, seen);
    }
  }
  const ranked = (table: Map<string, Set<string>>) =>
    [...table].sort((x, y) => y[1].size - x[1].size || (x[0] < y[0] ? -1 : 1)).map(([e]) => e);
  const endpoints = [
    ...new Set([...first.filter(isReachableEndpoint), ...ranked(wg), ...ranked(link)]),
  ].slice(0, MAX_RANKED);
  const m = state.set.members.get(id);
  const announced = m ? memberReach(state, m).endpoint : undefined;
  if (endpoints.length === 0 && announced && isReachableEndpoint(announced)) {
    endpoints.push(announced);
  }
  return { endpoints, nat: natKind(wg) };
}

/**
 * Symmetric when two observers saw one host with different ports; cone when
 * two observers agree on an endpoint; otherwise unknown.
 */
function natKind(wg: Map<string, Set<string>>): NatKind {
  const ports = new Map<string, Map<number, Set<string>>>();
  let agreed = false;
  for (const [endpoint, observers] of wg) {
    const parts = splitEndpoint(endpoint)!;
    const byPort = ports.get(parts.host) ?? new Map<number, Set<string>>();
    byPort.set(parts.port, observers);
    ports.set(parts.host, byPort);
    if (observers.size >= 2) agreed = true;
  }
  for (const byPort of ports.values()) {
    if (byPort.size < 2) continue;
    const observers = new Set([...byPort.values()].flatMap((s) => [...s]));
    if (observers.size >= 2) return "symmetric";
  }
  return agreed ? "cone" : "unknown";
}
