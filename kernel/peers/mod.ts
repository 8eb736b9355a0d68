import type { PeerNetwork } from "../mod.ts";
/**
 * The peer stack: one authenticated WebSocket (npm:ws) per peer
 * ({@link PeerHub}, the kernel's {@link PeerNetwork}), and the kernel modules
 * that use it: the peer proxy (a cache miss asks peers, the answer is
 * verified against its hash), the blob server answering peers, and the peer
 * admin module (`grid peers`). The link protocol itself (handshake, sealed
 * frames) is internal: see docs/peers.md.
 *
 * @example
 * ```ts
 * import { PeerHub } from "./mod.ts";
 * // const hub = new PeerHub({ identity, handler: (parms, ctx) => kernel.call(parms, ctx) });
 * // await hub.listen("0.0.0.0", 7340); hub.dial("ws://203.0.113.7:7340");
 * ```
 *
 * @module
 */
export type { PeerNetwork };
export {
  type Backoff,
  CONNECTION_DEFAULTS,
  DEFAULT_BACKOFF,
  type DialState,
  type Listening,
  PeerHub,
  type PeerHubOptions,
  type PeerRow,
  sleep,
} from "./hub.ts";
export {
  LookupLedger,
  peerBlobModule,
  type PeerBlobOptions,
  peerProxyModule,
  type PeerProxyOptions,
  RANGE_PROMISE,
} from "./proxy.ts";
export {
  parsePeerUrl,
  peerAdminModule,
  type PeerAdminSource,
  PEERS_DIAL_PROMISE,
  PEERS_LIST_PROMISE,
  peersDialMessage,
  peersListMessage,
  readPeerRows,
  readPeerUrls,
} from "./admin.ts";
export {
  canonicalIpv6,
  checkReachableHost,
  isLinkLocalHost,
  isLocalOnlyHost,
  mappedIpv4,
  urlHost,
} from "./reachable.ts";
