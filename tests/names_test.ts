/**
 * End-to-end: names for members. Agents in network namespaces, each
 * answering DNS on its own 127.0.77.53; each namespace's resolver points
 * there (`ip netns exec` mounts `/etc/netns/NS/resolv.conf` over
 * `/etc/resolv.conf`). Every node pings every other by `nodeN.home.grid`
 * through the tunnel; the first node also keeps the names in its hosts file
 * (a bind mount, so written in place). A fourth node joins as a second
 * "node2" and answers as `node2-2.home.grid`. After `grid revoke`, the revoked
 * member's name stops resolving on the others and leaves the hosts block.
 *
 * Needs root, wg, wireguard-go, ip, ping and getent; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode, pool } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping", "getent"]);
if (skip) console.log(`names_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

const NET = "home";
const HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";

/** The IPv4 address `name` resolves to on `node`, or undefined. */
async function resolve(mesh: MeshLab, node: MeshNode, name: string): Promise<string | undefined> {
  const out = await mesh.lab.run(node, ["getent", "ahostsv4", name], { timeoutMs: 10_000 });
  return out.code === 0 ? out.stdout.trim().split(/\s+/)[0] : undefined;
}

Deno.test({
  name:
    "names: every node pings every member as NAME.NET.grid; a twin name gets -2; a revoked member's name goes",
  ...LAB_TEST,
  async fn() {
    const mesh = await MeshLab.create(4);
    const trio = mesh.nodes.slice(0, 3);
    try {
      for (const n of mesh.nodes) await mesh.useGridDns(n, n.index === 1 ? HOSTS : undefined);
      await pool(
        mesh.nodes,
        3,
        (n) => mesh.startAgent(n, 60_000, n.index === 1 ? ["--hosts-file", "/etc/hosts"] : []),
      );
      for (const node of mesh.nodes) {
        const up = await waitFor(() => node.agent!.output().includes("dns-up"), 10_000);
        assert(up, node.agent!.output().slice(-1500));
      }
      await mesh.formMesh(NET, { cidr: "10.66.0.0/24" }, trio);
      assert((await mesh.waitForMesh(trio, 60_000)) !== undefined, "the mesh did not form");
      const address = new Map<MeshNode, string>();
      const address6 = new Map<MeshNode, string>();
      for (const n of trio) {
        address.set(n, (await mesh.tunnelAddress(n))!);
        const report = JSON.parse(await mesh.gridOk(n, ["status", NET, "--json"]));
        address6.set(n, report.nets[0].address6);
      }

      const pairs = trio.flatMap((a) => trio.filter((b) => b !== a).map((b) => [a, b]));
      await pool(pairs, 6, async ([a, b]) => {
        const name = `node${b.index}.${NET}.grid`;
        const found = await waitFor(
          async () => (await resolve(mesh, a, name)) !== undefined,
          20_000,
          250,
        );
        assert(found, `node ${a.index} cannot resolve ${name}`);
        assertEquals(await resolve(mesh, a, name.toUpperCase()), address.get(b));
        const ping = await mesh.lab.run(a, ["ping", "-c1", "-W2", name], { timeoutMs: 15_000 });
        assertEquals(ping.code, 0, `node ${a.index}: ping ${name}: ${ping.stdout}${ping.stderr}`);
        // The name has an A and an AAAA record: ping takes either overlay, both are b's.
        assert(
          ping.stdout.includes(`(${address.get(b)})`) ||
            ping.stdout.includes(`(${address6.get(b)})`),
          ping.stdout,
        );
      });
      assertEquals(await resolve(mesh, mesh.nodes[0], `nobody.${NET}.grid`), undefined);

      const hostsPath = `/etc/netns/${mesh.nodes[0].ns}/hosts`;
      const hosts = await Deno.readTextFile(hostsPath);
      assert(hosts.startsWith(HOSTS), hosts);
      console.log(`names_test: ${pairs.length} pairs ping by name; node1's hosts file:\n${hosts}`);
      for (const n of trio) {
        assert(hosts.includes(`${address.get(n)} node${n.index}.${NET}.grid\n`), hosts);
      }

      // A second "node2": the first admitted keeps the name, the newcomer answers as node2-2.
      const [, , , fourth] = mesh.nodes;
      const token = await mesh.invite(mesh.nodes[0], NET);
      const twin = await mesh.grid(fourth, [
        "join-wireguard-net",
        NET,
        token,
        "--name",
        "node2",
        ...mesh.wgFlags(fourth),
      ]);
      assertEquals(twin.code, 0, twin.stderr);
      assert(twin.stderr.includes(`answers as node2-2.${NET}.grid`), twin.stderr);
      address.set(fourth, (await mesh.tunnelAddress(fourth))!);
      const twinUp = await waitFor(
        async () =>
          (await resolve(mesh, mesh.nodes[0], `node2-2.${NET}.grid`)) === address.get(fourth),
        20_000,
        250,
      );
      assert(twinUp, "node2-2 does not resolve to the second node2");
      assertEquals(
        await resolve(mesh, mesh.nodes[2], `node2.${NET}.grid`),
        address.get(mesh.nodes[1]),
      );
      assert(await mesh.lab.ping(mesh.nodes[2], `node2-2.${NET}.grid`, 10), "no ping to node2-2");

      // Revoked: its name stops resolving everywhere, and leaves the hosts block.
      const [first, second, third] = mesh.nodes;
      await mesh.gridOk(first, ["revoke", NET, address.get(third)!]);
      const gone = await waitFor(
        async () =>
          (await resolve(mesh, second, `node3.${NET}.grid`)) === undefined &&
          !(await Deno.readTextFile(hostsPath)).includes("node3"),
        20_000,
        250,
      );
      assert(gone, `node3 still resolves after its revoke: ${await Deno.readTextFile(hostsPath)}`);
      assertEquals(await resolve(mesh, second, `node1.${NET}.grid`), address.get(first));

      // The agent stops: its block goes, the rest of the file stays.
      await mesh.stopAgent(first);
      assertEquals(await Deno.readTextFile(hostsPath), HOSTS);
    } finally {
      await mesh.destroy();
    }
  },
});
