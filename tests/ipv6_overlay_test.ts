/**
 * End-to-end: the IPv6 overlay on a normal IPv4 underlay. Three agents in
 * network namespaces form a net; each interface carries its IPv4 address and
 * its derived IPv6 one (what `grid status --json` says), and every pair pings
 * the other's IPv6 and IPv4 tunnel address through WireGuard. Then an admin
 * revokes one member by its IPv6 address: its /128 leaves every other node's
 * allowed IPs and pings to it stop.
 *
 * Needs root, wg, wireguard-go, ip and ping; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping"]);
if (skip) console.log(`ipv6_overlay_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

const NET = "six";

interface Addresses {
  address: string;
  address6: string;
  cidr6: string;
}

async function addressesOf(mesh: MeshLab, node: MeshNode): Promise<Addresses> {
  const report = JSON.parse(await mesh.gridOk(node, ["status", NET, "--json"]));
  const { address, address6, cidr6 } = report.nets[0];
  return { address, address6, cidr6 };
}

/** The global IPv6 addresses on the node's interface, as `ip` prints them. */
async function interfaceIpv6(mesh: MeshLab, node: MeshNode): Promise<string[]> {
  const out = await mesh.lab.run(node, ["ip", "-j", "-6", "address", "show", "dev", node.ifname]);
  const info: { local: string; prefixlen: number; scope: string }[] =
    JSON.parse(out.stdout)[0]?.addr_info ?? [];
  return info.filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`);
}

/** Pairs `[from, to]` among `nodes` where `from` cannot ping `to`'s address in `which`. */
async function failing(
  mesh: MeshLab,
  nodes: MeshNode[],
  of: Map<MeshNode, Addresses>,
  which: "address" | "address6",
): Promise<string[]> {
  const addresses = new Map(nodes.map((n) => [n, of.get(n)?.[which]]));
  const failed = await mesh.unreachablePairs(nodes, addresses, 0.5, 6);
  return failed.map(([a, b]) => `${a.index}->${b.index} (${addresses.get(b)})`);
}

Deno.test({
  name:
    "IPv6 overlay: every pair of 3 agents pings over IPv6 and IPv4, and a revoke drops the /128",
  ...LAB_TEST,
  async fn() {
    const mesh = await MeshLab.create(3);
    try {
      await mesh.startAgents();
      await mesh.formMesh(NET, { cidr: "10.69.0.0/24" });
      const of = new Map<MeshNode, Addresses>();
      for (const node of mesh.nodes) of.set(node, await addressesOf(mesh, node));
      const all = [...of.values()];
      assertEquals(new Set(all.map((a) => a.cidr6)).size, 1, "one /64 for the net");
      assert(/^fd[0-9a-f]{2}:/.test(all[0].cidr6), all[0].cidr6);
      assertEquals(new Set(all.map((a) => a.address6)).size, 3, "distinct IPv6 addresses");
      for (const [node, a] of of) {
        const want = `${a.address6}/64`;
        const ok = await waitFor(
          async () => (await interfaceIpv6(mesh, node)).includes(want),
          20_000,
          100,
        );
        assert(ok, `node ${node.index} lacks ${want}: ${await interfaceIpv6(mesh, node)}`);
      }

      let v6: string[] = [];
      let v4: string[] = [];
      const pinged = await waitFor(
        async () => {
          [v6, v4] = await Promise.all([
            failing(mesh, mesh.nodes, of, "address6"),
            failing(mesh, mesh.nodes, of, "address"),
          ]);
          return v6.length === 0 && v4.length === 0;
        },
        60_000,
        200,
      );
      assert(pinged, `pairs that do not ping: IPv6 ${v6.join(", ")}; IPv4 ${v4.join(", ")}`);

      // Revoke node 3 by its IPv6 address: every other node drops its /128 and its /32.
      const [first, second, third] = mesh.nodes;
      const gone = of.get(third)!;
      await mesh.gridOk(first, ["revoke", NET, gone.address6.toUpperCase()]);
      const dropped = await waitFor(
        async () => {
          for (const node of [first, second]) {
            const allowed = (await mesh.wgDump(node))?.peers.flatMap((p) => p.allowedIps) ?? [];
            if (
              allowed.includes(`${gone.address6}/128`) || allowed.includes(`${gone.address}/32`)
            ) {
              return false;
            }
            if (!allowed.some((a) => a.endsWith("/128"))) return false; // the other peer stays
          }
          return true;
        },
        15_000,
        100,
      );
      assert(dropped, "the revoked node's /128 is still in someone's allowed IPs");
      for (const node of [first, second]) {
        assert(
          !(await mesh.lab.ping(node, gone.address6, 2, 0.5)),
          `node ${node.index} still reaches it`,
        );
      }
      assertEquals(await failing(mesh, [first, second], of, "address6"), []);
    } finally {
      await mesh.destroy();
    }
  },
});
