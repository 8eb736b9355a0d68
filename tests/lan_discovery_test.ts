/**
 * End-to-end: discovery on the local network (issue 15). Four nodes on one
 * bridge, none with a configured peer. Node 1 creates open net
 * `foo` and invite-only net `bar`; node 2 runs `grid join-wireguard-net foo`
 * with nothing else, becomes a member through node 1's LAN announcement and
 * pings node 1's tunnel address; `bar` is not joinable that way (one line).
 * Node 2 runs no agent: its join stays in the foreground as the agent.
 * Node 3 creates a second open net also called `foo`: node 4's plain join
 * lists both and exits non-zero, and `--net ID` joins node 3's. With node 3
 * and 4's agents restarted with `--no-announce`, their net is not found.
 *
 * Needs root, wg, wireguard-go, ip and ping; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping"]);
if (skip) console.log(`lan_discovery_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

async function netId(mesh: MeshLab, node: MeshNode, name: string): Promise<string> {
  const report = JSON.parse(await mesh.gridOk(node, ["status", name, "--json"]));
  return report.nets[0].id;
}

Deno.test({
  name:
    "join-wireguard-net foo with no invite and no peer joins the open net foo announced on the LAN; invite-only nets are not announced; two nets named foo need --net",
  ...LAB_TEST,
  async fn() {
    const mesh = await MeshLab.create(4);
    try {
      const [n1, n2, n3, n4] = mesh.nodes;
      // Node 2 has no agent: its join stays in the foreground as the agent, as on a fresh machine.
      await mesh.startAgents([n1, n3, n4]);
      await mesh.createNet(n1, "foo", { cidr: "10.91.0.0/24", open: true });
      await mesh.gridOk(n1, [
        "create-wireguard-net",
        "bar",
        "--cidr",
        "10.92.0.0/24",
        "--interface",
        "gbar",
        "--listen-port",
        "51821",
        "--endpoint",
        `${n1.address}:51821`,
      ]);
      const fooId = await netId(mesh, n1, "foo");
      const barId = await netId(mesh, n1, "bar");

      // Invite-only bar: never announced, so a plain join finds nothing to join.
      const bar = await mesh.join(n2, "bar");
      assert(bar.code !== 0, `joining invite-only bar succeeded: ${bar.stdout}`);
      assertEquals(bar.stderr.trim().split("\n").length, 1, `not one line: ${bar.stderr}`);
      assert(!bar.stdout.includes(barId), bar.stdout);
      assert(bar.stderr.includes(`Joining net "bar" needs an invite`), bar.stderr);

      // Open foo: found on the LAN and joined with nothing but its name.
      const joining = mesh.spawnGrid(n2, ["join-wireguard-net", "foo", ...mesh.wgFlags(n2)]);
      let exited = false;
      joining.status.then(() => exited = true);
      assert(
        await waitFor(
          () => exited || joining.output().includes("staying in the foreground"),
          60_000,
        ),
        `the join did not finish: ${joining.output()}`,
      );
      const joined = joining.output();
      assert(!exited, `the join exited: ${joined}`);
      assert(joined.includes(`Joined net "foo"`), joined);
      assert(joined.includes(`Net id ${fooId}`), joined);
      assert(joined.includes(`found open net "foo" on the local network`), joined);
      // The founder shown after the join is the one the net's own records name (node 1).
      const founder1 = JSON.parse(await mesh.gridOk(n1, ["status", "--json"])).node;
      assert(joined.includes(`founder ${founder1} (found on the local network)`), joined);
      const to1 = await mesh.tunnelAddress(n1);
      assert(to1, "node 1 has no tunnel address");
      assert(
        await waitFor(() => mesh.lab.ping(n2, to1, 1, 1), 30_000, 200),
        "node 2 cannot ping node 1 through the tunnel",
      );

      // A second open net called foo: a plain join lists both and asks for --net.
      await mesh.createNet(n3, "foo", { cidr: "10.93.0.0/24", open: true });
      const otherId = await netId(mesh, n3, "foo");
      // A member asks nothing: it says it is a member, whatever else is on the LAN.
      const again = await mesh.join(n2, "foo");
      assertEquals(again.code, 0, again.stderr);
      assert(again.stdout.startsWith(`Already a member of net "foo"`), again.stdout);
      const listed = await mesh.join(n4, "foo");
      assert(listed.code !== 0, `a plain join chose among two nets: ${JSON.stringify(listed)}`);
      assert(listed.stdout.includes(fooId) && listed.stdout.includes(otherId), listed.stdout);
      assert(listed.stderr.trim().endsWith("choose one with --net ID"), listed.stderr);
      assertEquals(await mesh.tunnelAddress(n4), undefined);

      const chosen = await mesh.grid(n4, [
        "join-wireguard-net",
        "foo",
        "--net",
        otherId,
        ...mesh.wgFlags(n4),
      ]);
      assertEquals(chosen.code, 0, chosen.stderr);
      assert(chosen.stdout.includes(`Net id ${otherId}`), chosen.stdout);
      const to3 = await mesh.tunnelAddress(n3);
      assert(to3, "node 3 has no tunnel address");
      assert(
        await waitFor(() => mesh.lab.ping(n4, to3, 1, 1), 30_000, 200),
        "node 4 cannot ping node 3 through the tunnel",
      );
      assert((await mesh.tunnelAddress(n4))?.startsWith("10.93."), "node 4 is not in node 3's net");

      // `grid serve --no-announce`: with both its members silent, node 3's net is not found.
      for (const node of [n3, n4]) {
        await mesh.stopAgent(node);
        await mesh.startAgent(node, 60_000, ["--no-announce"]);
      }
      const silent = await mesh.grid(n2, ["join-wireguard-net", "foo", "--net", otherId]);
      assert(silent.code !== 0, silent.stdout);
      assertEquals(
        silent.stderr.trim(),
        `grid: No open net "foo" with id ${otherId} answered on the local network (found: ${fooId})`,
      );
    } finally {
      await mesh.destroy();
    }
  },
});
