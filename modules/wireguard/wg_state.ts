/**
 * The contract between the mesh (who should be a peer) and the WireGuard
 * layer (make the interface look like that): plain data describing one
 * interface's desired state. Rendering it from the member set is pure;
 * applying it (`wg set`, `ip`) is the effectful layer beside this file.
 *
 * Secrets are never in this data: private keys and pre-shared keys are
 * referenced by the path of a 0600 file that `wg` reads itself.
 *
 * @module
 */

/** One peer of the interface, as `wg set IF peer ...` takes it. */
export interface WgPeerSpec {
  /** Base64 WireGuard public key. */
  publicKey: string;
  /** `host:port` to reach it at, when known. */
  endpoint?: string;
  /** CIDRs routed to this peer, e.g. `["10.77.0.3/32"]`. */
  allowedIps: string[];
  /** Path of a 0600 file holding this pair's pre-shared key (base64), when the net uses PSKs. */
  presharedKeyFile?: string;
  /** Seconds between keepalives (for peers behind NAT), or undefined for none. */
  persistentKeepalive?: number;
}

/** The whole desired state of one WireGuard interface. */
export interface WgInterfaceSpec {
  /** Interface name, at most 15 characters, e.g. `grid0`. */
  name: string;
  /** Path of the 0600 file holding this node's private key (made by `wg genkey` here). */
  privateKeyFile: string;
  /** UDP port to listen on. */
  listenPort: number;
  /**
   * This node's tunnel addresses, each with its block's prefix length, e.g.
   * `["10.77.0.2/16", "fd3a:91c2:7e05::5c1e:2b7a:9d04:11f3/64"]`; any other
   * IPv4 or global IPv6 address on the link is removed.
   */
  addresses: string[];
  /** Optional MTU. */
  mtu?: number;
  /** Every peer the interface should have; any other peer is removed. */
  peers: WgPeerSpec[];
  /**
   * Follow roaming: a peer whose latest handshake is at most this many
   * seconds old keeps the endpoint WireGuard learned from its packets, and
   * the spec's endpoint is set only once that session goes quiet. Unset: the
   * spec's endpoint always wins.
   */
  followRoamingSeconds?: number;
}
