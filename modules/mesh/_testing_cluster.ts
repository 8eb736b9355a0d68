/**
 * Test helper: a cluster of mesh engines on one in-memory wire, each with a
 * fake WireGuard layer and its own grid home, for the mesh service's tests.
 *
 * @module
 */
import { hashText, homeAt, type Identity, Kernel, loadIdentity } from "../../kernel/mod.ts";
import { FakeWire } from "../membership/_testing_peers.ts";
import { Mesh, type MeshOptions } from "./service.ts";
import type { CreateRequest } from "./protocol.ts";
import { FakeWg } from "./_testing_wg.ts";

/** The join promise the test nodes make. */
export const JOIN_PROMISE = hashText("test join promise").toString();

/** One node of a {@link Cluster}. */
export interface TestNode {
  name: string;
  root: string;
  url: string;
  mesh: Mesh;
  wg: FakeWg;
  stop: AbortController;
  kernel: Kernel;
  identity: Identity;
}

/** Mesh engines on one fake wire, each with a fake WireGuard layer. */
export class Cluster {
  /** The wire every node is on. */
  readonly wire = new FakeWire();
  /** The nodes, in the order added. */
  readonly nodes: TestNode[] = [];
  /** A fresh node called `name` (`extra`: more mesh options, e.g. its relay limits). */
  async add(name: string, extra: Partial<MeshOptions> = {}): Promise<TestNode> {
    const root = await Deno.makeTempDir({ prefix: `grid-mesh-${name}-` });
    return await this.open(name, root, extra);
  }
  /** Opens a node on the grid home at `root`. */
  async open(name: string, root: string, extra: Partial<MeshOptions> = {}): Promise<TestNode> {
    const home = homeAt(root);
    const identity = await loadIdentity(`${home.state}/identity`);
    const kernel = new Kernel();
    const url = `ws://${name}.test:7340/`;
    const peers = this.wire.add(identity.id, url, kernel);
    const wg = new FakeWg();
    const mesh = await Mesh.open({
      home,
      identity,
      joinPromise: JOIN_PROMISE,
      peers,
      advertise: url,
      wg,
      reconcileMs: 150,
      syncMs: 150,
      ...extra,
    });
    const stop = new AbortController();
    mesh.start(kernel, stop.signal);
    const node = { name, root, url, mesh, wg, stop, kernel, identity };
    this.nodes.push(node);
    return node;
  }
  /** Stops every node and removes their homes. */
  async close(): Promise<void> {
    for (const n of this.nodes) n.stop.abort();
    await new Promise((r) => setTimeout(r, 300));
    for (const n of new Set(this.nodes.map((n) => n.root))) {
      await Deno.remove(n, { recursive: true }).catch(() => {}); // best effort: a temp dir left is harmless
    }
  }
}

/** Polls `cond` every 10 ms; the ms it took, or throws after `ms`. */
export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > ms) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - start;
}

/** How many peers node `n`'s interface `iface` has (-1: none). */
export function peerCount(n: TestNode, iface: string): number {
  return n.wg.specs.get(iface)?.peers.length ?? -1;
}

/** A net "foo" of `count` nodes, joined through different inviters. */
export async function meshOf(
  c: Cluster,
  count: number,
  create: Partial<CreateRequest> = {},
): Promise<TestNode[]> {
  const nodes = [await c.add("n0")];
  await nodes[0].mesh.create({ name: "foo", interface: "gt0", listenPort: 51820, ...create });
  for (let i = 1; i < count; i++) {
    const inviter = nodes[(i - 1) % nodes.length]; // different inviters
    const { token } = await inviter.mesh.invite({ name: "foo" });
    const n = await c.add(`n${i}`);
    await n.mesh.join({ name: "foo", invite: token, interface: `gt${i}` });
    nodes.push(n);
  }
  return nodes;
}

/** Agents' timers end after abort. */
export const opts = { sanitizeOps: false, sanitizeResources: false }; // agents' timers end after abort

/** A test on a fresh {@link Cluster}, closed afterwards whatever happens. */
export function clusterTest(name: string, fn: (c: Cluster) => Promise<void>): void {
  Deno.test({
    name,
    ...opts,
    async fn() {
      const c = new Cluster();
      try {
        await fn(c);
      } finally {
        await c.close();
      }
    },
  });
}
