/**
 * Test helper: a WireGuard layer in memory. It remembers the last spec
 * applied per interface and reports every peer as handshaken 3 s ago, so
 * the mesh engine runs without root.
 *
 * @module
 */
import {
  type LinkState,
  newWgPrivateKey,
  type WgDriver,
  type WgDump,
  type WgInterfaceSpec,
  type WgPeerSpec,
  wgPublicKeyOf,
} from "../wireguard/mod.ts";

/** A WireGuard layer that remembers the last spec per interface. */
export class FakeWg implements WgDriver {
  readonly specs = new Map<string, WgInterfaceSpec>();
  readonly removed: string[] = [];
  /** When set, applying fails (as a port already in use would). */
  failApply: string | undefined;
  /** Interfaces that exist but are administratively down. */
  readonly down = new Set<string>();
  async generateKeyPair(dir: string): Promise<{ publicKey: string; privateKeyFile: string }> {
    const privateKeyFile = `${dir}/wg.key`;
    await Deno.mkdir(dir, { recursive: true });
    let secret: string;
    try {
      secret = await Deno.readTextFile(privateKeyFile);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      secret = newWgPrivateKey();
      await Deno.writeTextFile(privateKeyFile, secret, { mode: 0o600 });
    }
    // A real X25519 key pair, as `wg genkey`/`wg pubkey` make: join requests prove it.
    return { publicKey: wgPublicKeyOf(secret), privateKeyFile };
  }
  applyInterface(spec: WgInterfaceSpec): Promise<{ created?: string }> {
    const created = this.specs.has(spec.name) ? {} : { created: "userspace" };
    if (this.failApply) {
      this.specs.set(spec.name, { ...structuredClone(spec), peers: [] }); // made, never configured
      return Promise.reject(new Error(this.failApply));
    }
    this.specs.set(spec.name, structuredClone(spec));
    return Promise.resolve(created);
  }
  removeInterface(name: string): Promise<void> {
    this.specs.delete(name);
    this.otherLinks.delete(name);
    this.removed.push(name);
    return Promise.resolve();
  }
  /** The address routes to peers leave from (tests change it to move the node). */
  source: string | undefined = undefined;
  routeSource(): Promise<string | undefined> {
    return Promise.resolve(this.source);
  }
  globalAddresses(): Promise<string[]> {
    return Promise.resolve(this.source ? [this.source] : []);
  }
  readonly nudged: string[][] = [];
  resetEndpoints(): Promise<void> {
    return Promise.resolve();
  }
  nudge(addresses: readonly string[]): Promise<void> {
    this.nudged.push([...addresses]);
    return Promise.resolve();
  }
  /** Every restartPeer and kickPeer, in order, as `restart KEY ENDPOINT` / `kick KEY ENDPOINT`. */
  readonly moves: string[] = [];
  /** What {@link preflight} answers (undefined: all is well). */
  cannot: string | undefined = undefined;
  preflight(): Promise<string | undefined> {
    return Promise.resolve(this.cannot);
  }
  /** Links that exist on the "machine" but are not WireGuard (eth0, lo). */
  readonly otherLinks = new Set<string>(["eth0", "lo"]);
  isWireGuard(name: string): Promise<boolean> {
    return Promise.resolve(this.specs.has(name));
  }
  restartPeer(name: string, peer: WgPeerSpec): Promise<void> {
    this.moves.push(`restart ${peer.publicKey} ${peer.endpoint ?? "-"}`);
    this.#setEndpoint(name, peer.publicKey, peer.endpoint);
    return Promise.resolve();
  }
  kickPeer(name: string, publicKey: string, endpoint: string): Promise<void> {
    this.moves.push(`kick ${publicKey} ${endpoint}`);
    this.#setEndpoint(name, publicKey, endpoint);
    return Promise.resolve();
  }
  #setEndpoint(name: string, publicKey: string, endpoint: string | undefined): void {
    const peer = this.specs.get(name)?.peers.find((p) => p.publicKey === publicKey);
    if (peer) peer.endpoint = endpoint;
  }
  readLinkState(name: string): Promise<LinkState> {
    if (this.otherLinks.has(name)) return Promise.resolve({ exists: true, up: true });
    const exists = this.specs.has(name);
    return Promise.resolve({ exists, up: exists && !this.down.has(name) });
  }
  readStatus(name: string): Promise<WgDump> {
    const spec = this.specs.get(name);
    if (!spec) {
      return Promise.reject(new Error(`Cannot read the status of "${name}": no such interface`));
    }
    return Promise.resolve({
      device: { listenPort: spec.listenPort },
      peers: spec.peers.map((p) => ({
        publicKey: p.publicKey,
        endpoint: p.endpoint,
        allowedIps: p.allowedIps,
        latestHandshake: Math.floor(Date.now() / 1000) - 3,
        rxBytes: 1000,
        txBytes: 2000,
        presharedKeyHash: p.presharedKeyFile ? "f".repeat(64) : undefined,
      })),
    });
  }
}
