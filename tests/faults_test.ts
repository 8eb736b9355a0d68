/**
 * End-to-end: the network misbehaves under a running mesh, and the mesh
 * heals by itself. Eight grid agents in network namespaces with real
 * WireGuard, each working out its own address (`--advertise auto`, no
 * `--endpoint`), take one fault after another:
 *
 * - a node's underlay address changes with its agent running;
 * - the path between two nodes is blackholed both ways, then restored;
 * - an agent is frozen (SIGSTOP) while another node joins, then thawed;
 * - a member is cut off while two nodes join and one is revoked, then healed;
 * - a fifth of a node's incoming packets are lost;
 * - a member leaves and joins again through a member that holds a link to it.
 *
 * After each, every pair pings and every node holds the same member set,
 * within {@link HEAL_BOUND_MS} (the test's bound, generous for a shared
 * 2-core machine; bench/faults_bench.ts measures the real times), and
 * `grid status` tells the truth meanwhile. No log line repeats more than a
 * few times a minute through all of it.
 *
 * Needs root, wg, wireguard-go, ip, ping and iptables; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping", "iptables"]);
if (skip) console.log(`faults_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

/** How long the mesh may take to be whole again after a fault ends, in this test. */
const HEAL_BOUND_MS = 30_000;
/** How long a dead grid link may show as up (the link's 6 s liveness bound, plus a status round). */
const DEAD_LINK_SHOWN_MS = 12_000;
const NET = "faults";

interface PeerJson {
  id: string;
  name: string;
  address: string;
  link: "up" | "down";
  records: string;
}
interface NetJson {
  status: string;
  peers: PeerJson[];
  former: { id: string; status: string }[];
}

async function net(mesh: MeshLab, node: MeshNode): Promise<NetJson> {
  return JSON.parse(await mesh.gridOk(node, ["status", NET, "--json"])).nets[0];
}

/** The member set a node holds: live ids and former ids with their standing, sorted. */
async function memberSet(mesh: MeshLab, node: MeshNode): Promise<string> {
  const self = JSON.parse(await mesh.gridOk(node, ["status", "--json"])).node;
  const n = await net(mesh, node);
  return JSON.stringify([
    ...[self, ...n.peers.map((p) => p.id)].sort(),
    ...n.former.map((f) => `${f.id}:${f.status}`).sort(),
  ]);
}

/** Waits until every pair of `nodes` pings and all hold the same member set; the ms it took. */
async function whole(mesh: MeshLab, nodes: MeshNode[], what: string): Promise<number> {
  const start = performance.now();
  const ok = await waitFor(
    async () => {
      const sets = await Promise.all(nodes.map((n) => memberSet(mesh, n)));
      if (new Set(sets).size !== 1) return false;
      return (await mesh.failingPairs(nodes, 1)).length === 0;
    },
    HEAL_BOUND_MS,
    500,
  );
  const ms = performance.now() - start;
  if (!ok) {
    const failing = (await mesh.failingPairs(nodes)).map(([a, b]) => `${a.index}>${b.index}`);
    throw new Error(`${what}: not whole after ${HEAL_BOUND_MS} ms; failing pairs ${failing}`);
  }
  console.log(`faults_test: ${what}: whole again after ${Math.round(ms)} ms`);
  return ms;
}

/** Log lines (time stripped, durations masked) that repeat more than `max` times within a minute. */
function chatty(log: string, max: number): string[] {
  const times = new Map<string, number[]>();
  for (const line of log.split("\n")) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (\S+ \S+.*)$/.exec(line);
    if (!m) continue;
    const key = m[2].replace(/(silentMs|silentS|afterS|idleMs)=\d+/g, "$1=#");
    const list = times.get(key) ?? [];
    list.push(Date.parse(m[1]));
    times.set(key, list);
  }
  const out: string[] = [];
  for (const [key, list] of times) {
    for (let i = 0; i + max < list.length; i++) {
      if (list[i + max] - list[i] < 60_000) {
        out.push(`${list.length}x ${key.slice(0, 160)}`);
        break;
      }
    }
  }
  return out;
}

Deno.test({
  ...LAB_TEST,
  name: "the mesh heals by itself: re-address, blackhole, frozen agent, partition, loss, rejoin",
  async fn(t) {
    const mesh = await MeshLab.create(8, { auto: true });
    const [n1, n2, n3, n4, n5, n6, n7, n8] = mesh.nodes;
    const core = [n1, n2, n3, n4, n5];
    try {
      await mesh.startAgents(mesh.nodes);
      await mesh.createNet(n1, NET, { cidr: "10.72.0.0/16" });
      for (const node of [n2, n3, n4, n5]) {
        const out = await mesh.join(node, NET, await mesh.invite(n1, NET));
        assertEquals(out.code, 0, out.stderr);
      }
      await whole(mesh, core, "formed");

      await t.step("a node's address changes with its agent running", async () => {
        await mesh.readdress(n3, "192.168.77.33");
        await whole(mesh, core, "re-address");
        // Roaming is kept: the peers' WireGuard keeps the new address, and no reconcile
        // writes the old one back (it did every 15 s before).
        for (let i = 0; i < 4; i++) {
          await new Promise((r) => setTimeout(r, 5000));
          for (const node of [n1, n2, n4]) {
            const dump = await mesh.wgDump(node);
            const endpoints = dump!.peers.map((p) => p.endpoint);
            assert(endpoints.includes("192.168.77.33:51820"), `node ${node.index}: ${endpoints}`);
            assert(!endpoints.includes("192.168.77.3:51820"), `node ${node.index} went back`);
          }
        }
        assertEquals(await mesh.failingPairs(core), []);
      });

      await t.step("a blackholed path is shown down, then heals when restored", async () => {
        await mesh.blackhole(n1, n2, true);
        const id2 = JSON.parse(await mesh.gridOk(n2, ["status", "--json"])).node;
        const shown = await waitFor(
          async () => {
            const peer = (await net(mesh, n1)).peers.find((p) => p.id === id2);
            return peer?.link === "down";
          },
          DEAD_LINK_SHOWN_MS,
          500,
        );
        assert(shown, "node 1 still shows a grid link to node 2");
        assert(await mesh.lab.ping(n3, (await mesh.tunnelAddress(n2))!, 3), "others lost node 2");
        await mesh.blackhole(n1, n2, false);
        await whole(mesh, core, "blackhole restored");
        // The grid link comes back too, after the dialer's backoff (it grew during the fault).
        const up = await waitFor(
          async () => {
            const peer = (await net(mesh, n1)).peers.find((p) => p.id === id2);
            return peer?.link === "up";
          },
          HEAL_BOUND_MS,
          500,
        );
        assert(up, "the grid link between node 1 and node 2 did not come back");
      });

      await t.step("a frozen agent catches up with a join it slept through", async () => {
        n4.agent!.kill("SIGSTOP");
        const out = await mesh.join(n6, NET, await mesh.invite(n1, NET));
        assertEquals(out.code, 0, out.stderr);
        await new Promise((r) => setTimeout(r, 8000));
        n4.agent!.kill("SIGCONT");
        await whole(mesh, [...core, n6], "frozen agent thawed");
      });

      await t.step(
        "a member cut off while two join and one is revoked learns it all when healed",
        async () => {
          await mesh.isolate(n5, true);
          for (const node of [n7, n8]) {
            const out = await mesh.join(node, NET, await mesh.invite(n1, NET));
            assertEquals(out.code, 0, out.stderr);
          }
          await mesh.gridOk(n1, ["revoke", NET, "node2"]);
          const id5 = JSON.parse(await mesh.gridOk(n5, ["status", "--json"])).node;
          const down = await waitFor(
            async () => {
              const peer = (await net(mesh, n1)).peers.find((p) => p.id === id5);
              return peer?.link === "down";
            },
            DEAD_LINK_SHOWN_MS,
            500,
          );
          assert(down, "node 1 still shows node 5 as reachable");
          await mesh.isolate(n5, false);
          await whole(mesh, [n1, n3, n4, n5, n6, n7, n8], "partition healed");
          assertEquals((await net(mesh, n5)).former.some((f) => f.status === "revoked"), true);
          assert(
            await waitFor(async () => (await mesh.wgDump(n2)) === undefined, 10_000),
            "node 2 kept its interface",
          );
        },
      );

      await t.step(
        "a fifth of one node's packets lost: the mesh holds, and is whole when it stops",
        async () => {
          await mesh.loss(n3, 0.2);
          await new Promise((r) => setTimeout(r, 10_000));
          await mesh.loss(n3, 0);
          await whole(mesh, [n1, n3, n4, n5, n6, n7, n8], "loss over");
        },
      );

      await t.step(
        "leave and join again through a member holding a link to the leaver, twice",
        async () => {
          for (let round = 0; round < 2; round++) {
            const left = await mesh.grid(n6, ["leave-wireguard-net", NET]);
            assertEquals(left.code, 0, left.stderr);
            const started = performance.now();
            const out = await mesh.join(n6, NET, await mesh.invite(n3, NET));
            assertEquals(out.code, 0, `round ${round}: ${out.stderr}`);
            const ms = performance.now() - started;
            assert(ms < 10_000, `round ${round}: the rejoin took ${Math.round(ms)} ms`);
          }
          await whole(mesh, [n1, n3, n4, n5, n6, n7, n8], "rejoined");
        },
      );

      await t.step("no log line repeats more than five times a minute", () => {
        for (const node of mesh.nodes) {
          const noisy = chatty(node.agent?.output() ?? "", 5);
          assertEquals(noisy, [], `node ${node.index}: ${noisy.join("\n")}`);
        }
      });
    } finally {
      await mesh.destroy();
    }
  },
});
