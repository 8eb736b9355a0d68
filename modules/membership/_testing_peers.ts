/**
 * Test helper: an in-memory peer network. Each node has a kernel and a URL;
 * dialling a URL links two nodes both ways, and every request is encoded and
 * decoded with the real codec on the way there and back, so only what could
 * cross a real wire gets through. Links can be cut to simulate partitions.
 *
 * @module
 */
import {
  type DatagramListener,
  decodeMessage,
  encodeMessage,
  type Kernel,
  type Parms,
  type PeerEvent,
  type PeerInfo,
  type PeerNetwork,
  reject,
  type RequestOptions,
} from "../../kernel/mod.ts";

interface FakeNode {
  id: string;
  url: string;
  kernel: Kernel;
  peers: FakePeers;
}

/** The wire every {@link FakePeers} shares. */
export class FakeWire {
  /** Nodes on the wire, by id. */
  readonly nodes = new Map<string, FakeNode>();
  /** Linked pairs. */
  readonly links = new Set<string>();
  /** Pairs kept apart (a partition): dialling does not link them. */
  readonly blocked = new Set<string>();
  /** Every message and reply that crossed the wire, encoded. */
  readonly captured: Uint8Array[] = [];

  /** Adds a node; returns its peer network. */
  add(id: string, url: string, kernel: Kernel): FakePeers {
    const peers = new FakePeers(this, id);
    this.nodes.set(id, { id, url, kernel, peers });
    return peers;
  }

  #key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  /** Whether `a` and `b` are linked. */
  linked(a: string, b: string): boolean {
    return this.links.has(this.#key(a, b));
  }

  /** Links `a` and `b` (unless blocked) and tells both. */
  link(a: string, b: string): void {
    if (a === b || this.linked(a, b) || this.blocked.has(this.#key(a, b))) return;
    this.links.add(this.#key(a, b));
    const na = this.nodes.get(a)!;
    const nb = this.nodes.get(b)!;
    queueMicrotask(() => {
      na.peers.emit({ type: "up", peer: na.peers.info(b, nb.url) });
      nb.peers.emit({ type: "up", peer: nb.peers.info(a, na.url) });
    });
  }

  /** Cuts the link between two nodes and keeps them apart until {@link heal}. */
  cut(a: string, b: string): void {
    this.blocked.add(this.#key(a, b));
    if (!this.links.delete(this.#key(a, b))) return;
    this.nodes.get(a)!.peers.emit({ type: "down", peer: this.nodes.get(a)!.peers.info(b, "") });
    this.nodes.get(b)!.peers.emit({ type: "down", peer: this.nodes.get(b)!.peers.info(a, "") });
  }

  /** Ends a partition between two nodes and links them again. */
  heal(a: string, b: string): void {
    this.blocked.delete(this.#key(a, b));
    this.link(a, b);
  }
}

/** One node's view of the fake wire. */
export class FakePeers implements PeerNetwork {
  readonly selfId: string;
  readonly #wire: FakeWire;
  readonly #listeners = new Set<(event: PeerEvent) => void>();
  readonly #datagramListeners = new Set<DatagramListener>();

  /** Node `selfId`'s end of `wire`. */
  constructor(wire: FakeWire, selfId: string) {
    this.#wire = wire;
    this.selfId = selfId;
  }

  /** The peer info of node `id` at `url`. */
  info(id: string, url: string): PeerInfo {
    return { id, url, advertise: url, publicKey: new Uint8Array(32), direction: "out" };
  }

  connected(): PeerInfo[] {
    return [...this.#wire.nodes.values()].filter((n) => this.#wire.linked(this.selfId, n.id))
      .map((n) => this.info(n.id, n.url));
  }

  async request(id: string, parms: Parms, options: RequestOptions = {}): Promise<Parms> {
    const target = this.#wire.nodes.get(id);
    if (!target || !this.#wire.linked(this.selfId, id)) {
      return reject("peer", `Peer "${id}" is not connected`);
    }
    const out = encodeMessage(parms);
    this.#wire.captured.push(out);
    const reply = await target.kernel.call(decodeMessage(out), {
      origin: `peer:${this.selfId}`,
      hops: options.hops ?? 0,
    });
    const back = encodeMessage(reply);
    this.#wire.captured.push(back);
    return decodeMessage(back);
  }

  lastHeard(id: string): number | undefined {
    return this.#wire.linked(this.selfId, id) ? Date.now() : undefined;
  }

  forget(): void {}

  redial(url: string): void {
    this.dial(url);
  }

  dropLinksFrom(): void {}

  dial(url: string): void {
    const target = [...this.#wire.nodes.values()].find((n) => n.url === url);
    if (target) this.#wire.link(this.selfId, target.id);
  }

  onChange(listener: (event: PeerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  sendDatagram(id: string, channel: number, bytes: Uint8Array): boolean {
    const target = this.#wire.nodes.get(id);
    if (!target || !this.#wire.linked(this.selfId, id)) return false;
    const copy = bytes.slice();
    queueMicrotask(() => target.peers.deliver(this.selfId, channel, copy));
    return true;
  }

  onDatagram(listener: DatagramListener): () => void {
    this.#datagramListeners.add(listener);
    return () => this.#datagramListeners.delete(listener);
  }

  /** Hands a datagram from `from` to this node's listeners. */
  deliver(from: string, channel: number, bytes: Uint8Array): void {
    for (const l of [...this.#datagramListeners]) l(from, channel, bytes);
  }

  remoteAddress(id: string): string | undefined {
    return this.#wire.linked(this.selfId, id) ? this.#wire.nodes.get(id)?.url : undefined;
  }

  /** Tells the listeners of a peer event. */
  emit(event: PeerEvent): void {
    for (const l of [...this.#listeners]) l(event);
  }
}
