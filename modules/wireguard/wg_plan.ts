/**
 * The pure diff between the WireGuard interface we want and the one we have:
 * the fewest actions that make the current state match the spec. Applying the
 * same spec twice yields no actions; a changed endpoint yields one peer
 * update, never a teardown, so working tunnels keep their sessions.
 *
 * @module
 */
import { canonicalIpv6 } from "../../kernel/peers/mod.ts";
import { isIpv4, parseCidr } from "./wg_validate.ts";
import type { WgDump } from "./wg_dump.ts";
import type { WgInterfaceSpec, WgPeerSpec } from "./wg_state.ts";

/** What `ip` says about the interface's link. */
export interface WgLinkState {
  /** IPv4 and global IPv6 addresses on the link, as `addr/prefix`. */
  addresses: string[];
  /** Whether the link is administratively up. */
  up: boolean;
  /** Current MTU. */
  mtu?: number;
}

/** The interface as it is now: its `wg` dump and its link. */
export interface WgCurrentState {
  /** Parsed `wg show IF dump`. */
  dump: WgDump;
  /** Parsed `ip addr`/`ip link`. */
  link: WgLinkState;
}

/** Peer fields that changed; only these are passed to `wg set ... peer`. */
export interface WgPeerChanges {
  /** New endpoint. */
  endpoint?: string;
  /** The whole new allowed-IPs list. */
  allowedIps?: string[];
  /** New pre-shared key file, or null to remove the pre-shared key. */
  presharedKeyFile?: string | null;
  /** New keepalive (0 turns it off). */
  persistentKeepalive?: number;
}

/** One step of a plan, in the order it must run. */
export type WgAction =
  | { kind: "create-link" }
  | { kind: "set-private-key"; privateKeyFile: string }
  | { kind: "set-listen-port"; listenPort: number }
  | { kind: "set-mtu"; mtu: number }
  | { kind: "remove-address"; address: string }
  | { kind: "add-address"; address: string }
  | { kind: "set-link-up" }
  | { kind: "remove-peer"; publicKey: string }
  | { kind: "add-peer"; peer: WgPeerSpec }
  | { kind: "update-peer"; publicKey: string; changes: WgPeerChanges };

/** What the planner needs beyond the spec: facts derived from secret files. */
export interface WgPlanOptions {
  /** Public key of `spec.privateKeyFile`; when unknown, the key is set only if none is. */
  publicKey?: string;
  /** {@link keyFingerprint} of each pre-shared key file's content, by path. */
  presharedKeyHashes?: Record<string, string>;
  /** The time now, in unix seconds (for {@link WgInterfaceSpec.followRoamingSeconds}). */
  nowSeconds?: number;
}

/**
 * The actions that turn `current` (undefined: no such interface) into `spec`.
 *
 * @example
 * ```ts
 * import { planInterface } from "./wg_plan.ts";
 * const spec = { name: "grid0", privateKeyFile: "/k", listenPort: 51820, addresses: ["10.77.0.1/16"], peers: [] };
 * planInterface(spec, undefined).map((a) => a.kind);
 * // ["create-link", "set-private-key", "set-listen-port", "add-address", "set-link-up"]
 * ```
 */
export function planInterface(
  spec: WgInterfaceSpec,
  current: WgCurrentState | undefined,
  options: WgPlanOptions = {},
): WgAction[] {
  const actions: WgAction[] = [];
  const dump = current?.dump;
  const link = current?.link ?? { addresses: [], up: false };
  if (!current) actions.push({ kind: "create-link" });

  const haveKey = dump?.device.publicKey;
  if (options.publicKey === undefined ? haveKey === undefined : options.publicKey !== haveKey) {
    actions.push({ kind: "set-private-key", privateKeyFile: spec.privateKeyFile });
  }
  if (spec.listenPort !== 0 && dump?.device.listenPort !== spec.listenPort) {
    actions.push({ kind: "set-listen-port", listenPort: spec.listenPort });
  }
  if (spec.mtu !== undefined && link.mtu !== spec.mtu) {
    actions.push({ kind: "set-mtu", mtu: spec.mtu });
  }

  const want = new Set(spec.addresses.map(canonicalAddress));
  const have = new Set(link.addresses.map(canonicalAddress));
  for (const address of link.addresses) {
    if (!want.has(canonicalAddress(address))) actions.push({ kind: "remove-address", address });
  }
  for (const address of spec.addresses) {
    if (!have.has(canonicalAddress(address))) actions.push({ kind: "add-address", address });
  }
  if (!link.up) actions.push({ kind: "set-link-up" });

  const wanted = new Map(spec.peers.map((p) => [p.publicKey, p]));
  const peers = new Map((dump?.peers ?? []).map((p) => [p.publicKey, p]));
  for (const key of peers.keys()) {
    if (!wanted.has(key)) actions.push({ kind: "remove-peer", publicKey: key });
  }
  for (const peer of spec.peers) {
    const now = peers.get(peer.publicKey);
    if (!now) {
      actions.push({ kind: "add-peer", peer });
      continue;
    }
    const changes: WgPeerChanges = {};
    // A loopback endpoint is a relay's local end, valid only while its agent holds it: never kept.
    const roaming = spec.followRoamingSeconds !== undefined && now.endpoint !== undefined &&
      !isLoopbackEndpoint(now.endpoint) && now.latestHandshake !== undefined &&
      now.latestHandshake > 0 &&
      (options.nowSeconds ?? Date.now() / 1000) - now.latestHandshake <=
        spec.followRoamingSeconds;
    if (peer.endpoint !== undefined && !roaming && !sameEndpoint(peer.endpoint, now.endpoint)) {
      changes.endpoint = peer.endpoint;
    }
    if (!sameSet(peer.allowedIps.map(canonicalNetwork), now.allowedIps.map(canonicalNetwork))) {
      changes.allowedIps = peer.allowedIps;
    }
    const wantHash = peer.presharedKeyFile === undefined
      ? undefined
      : options.presharedKeyHashes?.[peer.presharedKeyFile];
    if (peer.presharedKeyFile === undefined) {
      if (now.presharedKeyHash !== undefined) changes.presharedKeyFile = null;
    } else if (wantHash === undefined || wantHash !== now.presharedKeyHash) {
      changes.presharedKeyFile = peer.presharedKeyFile;
    }
    if ((peer.persistentKeepalive ?? 0) !== (now.persistentKeepalive ?? 0)) {
      changes.persistentKeepalive = peer.persistentKeepalive ?? 0;
    }
    if (Object.keys(changes).length > 0) {
      actions.push({ kind: "update-peer", publicKey: peer.publicKey, changes });
    }
  }
  return actions;
}

/** `addr/prefix` with the address in canonical text (host bits kept). */
function canonicalAddress(text: string): string {
  const cidr = parseCidr(text);
  if (!cidr) return text;
  return `${cidr.v6 ? canonicalIpv6(cidr.address) : cidr.address}/${cidr.prefix}`;
}

/** `net/prefix` as `wg` prints it: IPv4 host bits cleared, IPv6 compressed. */
function canonicalNetwork(text: string): string {
  const cidr = parseCidr(text);
  if (!cidr) return text;
  if (cidr.v6) return `${canonicalIpv6(cidr.address) ?? cidr.address}/${cidr.prefix}`;
  const n = cidr.address.split(".").reduce((acc, p) => acc * 256 + Number(p), 0);
  const mask = cidr.prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - cidr.prefix);
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${cidr.prefix}`;
}

/**
 * Whether the desired endpoint is the one `wg` has. A host name cannot be
 * compared without resolving it, so any known endpoint counts as the same.
 */
function sameEndpoint(want: string, have: string | undefined): boolean {
  if (have === undefined) return false;
  const i = want.lastIndexOf(":");
  const host = want.slice(0, i);
  const port = want.slice(i + 1);
  if (host.startsWith("[")) return `[${canonicalIpv6(host.slice(1, -1))}]:${port}` === have;
  if (isIpv4(host)) return want === have;
  return true;
}

/** Whether `endpoint` (`host:port` as `wg` prints it) is on 127.0.0.0/8 or ::1. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  return endpoint.startsWith("127.") || endpoint.startsWith("[::1]:");
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}
