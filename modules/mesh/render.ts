/**
 * Renders this node's desired WireGuard interface from a net's member set:
 * pure, so every rule (who is a peer, which address, keepalive, PSK files)
 * is unit-tested without root. The WireGuard layer applies the result.
 *
 * - The interface gets this node's folded tunnel address with the net's
 *   prefix, and its derived IPv6 address in the net's /64.
 * - Every other live member is a peer, routed at its `/32` and its IPv6
 *   `/128`; members who left or were revoked are not, so applying the spec
 *   drops them (both routes at once).
 * - Keepalive every {@link KEEPALIVE_SECONDS} s on every peer: an end behind
 *   NAT must keep its mapping open, and turning keepalive on makes WireGuard
 *   send a handshake the moment a peer is added, so a pair's session comes
 *   up as soon as the later of the two ends adds the other, instead of after
 *   WireGuard's 5 s retry when the first handshake reached an end that did
 *   not know us yet.
 * - On a PSK net a peer appears only once this pair's key file exists.
 * - A peer that roamed (its packets come from a new address, and its session
 *   is fresh) keeps the endpoint WireGuard learned, so a reconcile never
 *   writes back a stale one.
 *
 * @module
 */
import type { WgInterfaceSpec, WgPeerSpec } from "../wireguard/mod.ts";
import { IPV6_PREFIX_LENGTH, type Member, type MemberSet } from "../membership/mod.ts";

/** Persistent keepalive on every peer, in seconds. */
export const KEEPALIVE_SECONDS = 25;
/**
 * A peer whose latest handshake is this recent keeps the endpoint WireGuard
 * learned from its packets (it roamed), rather than the one its announcement
 * names. A live session rekeys every two minutes, so a fresh session is
 * under about 125 s old; 150 s is past that.
 */
export const FOLLOW_ROAMING_SECONDS = 150;

/** Options for {@link renderInterface}. */
export interface RenderOptions {
  /** This node's id. */
  selfId: string;
  /** Interface name. */
  interface: string;
  /** UDP port. */
  listenPort: number;
  /** Path of this node's WireGuard private key. */
  privateKeyFile: string;
  /** PSK file per peer node id (PSK nets). */
  pskFiles?: ReadonlyMap<string, string>;
  /** Where a member's WireGuard listens (default: its request's endpoint). */
  endpointOf?: (m: Member) => string | undefined;
}

/** The desired interface, or undefined when this node is not a live member. */
export function renderInterface(
  set: MemberSet,
  options: RenderOptions,
): WgInterfaceSpec | undefined {
  const self = set.members.get(options.selfId);
  if (!self || self.status !== "live") return undefined;
  const peers: WgPeerSpec[] = [];
  for (const m of [...set.members.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (m.status !== "live" || m.id === self.id) continue;
    const peer: WgPeerSpec = {
      publicKey: m.wg,
      allowedIps: [`${m.address}/32`, `${m.address6}/128`],
    };
    const endpoint = options.endpointOf ? options.endpointOf(m) : m.endpoint;
    if (endpoint) peer.endpoint = endpoint;
    peer.persistentKeepalive = KEEPALIVE_SECONDS;
    if (set.net.psk) {
      const file = options.pskFiles?.get(m.id);
      if (!file) continue;
      peer.presharedKeyFile = file;
    }
    peers.push(peer);
  }
  return {
    name: options.interface,
    privateKeyFile: options.privateKeyFile,
    listenPort: options.listenPort,
    addresses: [`${self.address}/${set.net.cidr.prefix}`, `${self.address6}/${IPV6_PREFIX_LENGTH}`],
    peers,
    followRoamingSeconds: FOLLOW_ROAMING_SECONDS,
  };
}

/** The default interface name for a net: `grid-` and the name, cut to 15 characters. */
export function defaultInterfaceName(net: string): string {
  return `grid-${net.replace(/[^A-Za-z0-9_.-]/g, "_")}`.slice(0, 15);
}
