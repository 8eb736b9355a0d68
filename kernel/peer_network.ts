/**
 * The kernel's view of its peers: who is connected, and a way to send one of
 * them a message and get its reply. The WebSocket implementation lives beside
 * this file; modules see only this interface.
 *
 * @module
 */
import type { Parms } from "./codec.ts";

/** One authenticated, connected peer. */
export interface PeerInfo {
  /** The peer's node id (proven by its identity key during the handshake). */
  readonly id: string;
  /** The URL we dialled, or undefined when the peer dialled us. */
  readonly url?: string;
  /** The WebSocket URL the peer says others can dial it at, if any. */
  readonly advertise?: string;
  /** Raw Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Who opened the connection. */
  readonly direction: "in" | "out";
}

/** Options for {@link PeerNetwork.request}. */
export interface RequestOptions {
  /** Give up after this long (default set by the implementation). */
  timeoutMs?: number;
  /** Abort the request. */
  signal?: AbortSignal;
  /** Hops the message has already taken. */
  hops?: number;
}

/** A change in the set of connected peers. */
export interface PeerEvent {
  /** Whether the peer came up or went down. */
  readonly type: "up" | "down";
  /** The peer. */
  readonly peer: PeerInfo;
}

/** Receives a datagram a peer sent on a channel. */
export type DatagramListener = (from: string, channel: number, bytes: Uint8Array) => void;

/** What modules may do with peers. */
export interface PeerNetwork {
  /** This node's id. */
  readonly selfId: string;
  /** Peers connected and authenticated right now. */
  connected(): PeerInfo[];
  /** Sends parms to peer `id` and resolves with its reply (a reject on timeout or close). */
  request(id: string, parms: Parms, options?: RequestOptions): Promise<Parms>;
  /** Dials `url` now and keeps the connection up (reconnecting with backoff). */
  dial(url: string): void;
  /** Stops redialling `url` (a link it holds stays while in use). */
  forget(url: string): void;
  /** Dials `url` now if it waits out a backoff (there is news the peer is back). */
  redial(url: string): void;
  /** Closes every link this host holds from local address `address` (it is gone); they redial. */
  dropLinksFrom(address: string): void;
  /** When peer `id` last gave a sign of life (ms since the epoch), if ever; kept after it goes down. */
  lastHeard(id: string): number | undefined;
  /** Listens for peers coming up and going down; returns an unsubscribe function. */
  onChange(listener: (event: PeerEvent) => void): () => void;
  /**
   * Sends peer `id` one datagram on `channel`, best effort (false: dropped).
   * Send only on a channel the peer agreed to: a node that predates
   * datagrams closes a link that carries one.
   */
  sendDatagram(id: string, channel: number, bytes: Uint8Array): boolean;
  /** Listens for datagrams from peers; returns an unsubscribe function. */
  onDatagram(listener: DatagramListener): () => void;
  /** The IP address peer `id`'s link comes from, as this node sees it, if connected. */
  remoteAddress(id: string): string | undefined;
}
