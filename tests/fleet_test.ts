/**
 * End-to-end: a fleet boots. A founder's agent holds net `fleet`; it signs
 * one multi-use invite, which goes into `GRID_HOME/nets.d/fleet.invite`
 * (0600) on every other node, as a cloud-init script would put it into
 * /etc/grid/nets.d. Then all those agents start at the same moment and
 * nothing else is typed: each joins on boot. Every node becomes a member, no
 * two share an address, and every pair pings through WireGuard. Then every
 * agent, the founder's too, is stopped and started again (a reboot of the
 * whole fleet): the same ids, the same addresses, no new membership and no
 * new records (endpoints are refreshed as announcements), every pair pings again, and the
 * joiners log that they hold the net already instead of joining. A node that
 * leaves while its nets.d file is still there is warned that it would rejoin.
 *
 * `GRID_FLEET_NODES` sets how many nodes boot besides the founder (default 4).
 * Needs root, wg, wireguard-go, ip and ping; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode, pool } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping"]);
if (skip) console.log(`fleet_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

const NET = "fleet";
const JOINERS = Number(Deno.env.get("GRID_FLEET_NODES") ?? 4);
/** This test's bound for the whole fleet to ping (generous: bench/burst_bench.ts measures). */
const BOUND_MS = 60_000;

interface Standing {
  id: string;
  address: string;
  members: number;
  records: number;
  former: number;
}

async function standing(mesh: MeshLab, node: MeshNode): Promise<Standing | undefined> {
  const out = await mesh.grid(node, ["status", NET, "--json"]);
  if (out.stdout.trim() === "") return undefined;
  const report = JSON.parse(out.stdout);
  const net = report.nets?.[0];
  if (!net || net.status !== "live") return undefined;
  return {
    id: report.node,
    address: net.address,
    members: net.members,
    records: net.records,
    former: net.former.length,
  };
}

/** Waits until every node is a live member holding all `count` members; their standings. */
async function allMembers(mesh: MeshLab, count: number): Promise<Standing[]> {
  let last: (Standing | undefined)[] = [];
  const ok = await waitFor(
    async () => {
      last = await Promise.all(mesh.nodes.map((n) => standing(mesh, n)));
      return last.every((s) => s?.members === count);
    },
    BOUND_MS,
    250,
  );
  assert(ok, `not every node became a member of ${count}: ${JSON.stringify(last)}`);
  return last as Standing[];
}

Deno.test({
  name:
    `fleet boot: ${JOINERS} agents start at once with one invite in nets.d, all join, and a reboot of all changes nothing`,
  ...LAB_TEST,
  async fn() {
    const mesh = await MeshLab.create(JOINERS + 1);
    try {
      const [founder, ...fleet] = mesh.nodes;
      await mesh.startAgent(founder);
      await mesh.createNet(founder, NET, { cidr: "10.88.0.0/24" });
      const token = await mesh.invite(founder, NET, ["--uses", String(JOINERS), "--ttl", "1h"]);
      for (const node of fleet) await mesh.provision(node, NET, token);

      const start = performance.now();
      await pool(fleet, fleet.length, (n) => mesh.startAgent(n));
      const first = await allMembers(mesh, JOINERS + 1);
      const pinged = await mesh.waitForMesh(mesh.nodes, BOUND_MS);
      assert(pinged !== undefined, "not every pair pings after the fleet joined");
      console.log(
        `fleet_test: ${JOINERS} nodes from start to all pairs pinging in ${
          Math.round(performance.now() - start)
        } ms`,
      );
      assertEquals(new Set(first.map((s) => s.address)).size, JOINERS + 1, "an address twice");
      assertEquals(new Set(first.map((s) => s.id)).size, JOINERS + 1);
      for (const s of first) assertEquals(s.former, 0, "a node joined twice");
      for (const node of fleet) {
        assert(node.agent!.output().includes("boot-join "), node.agent!.output().slice(-1500));
      }

      // The whole fleet reboots: agents stopped, then all started at once. The
      // founder got a copy of the file others may read: refused, not used.
      const records = await waitSettled(mesh);
      await mesh.provision(founder, NET, token, 0o644);
      await pool(mesh.nodes, mesh.nodes.length, (n) => mesh.stopAgent(n));
      await pool(mesh.nodes, mesh.nodes.length, (n) => mesh.startAgent(n));
      const again = await allMembers(mesh, JOINERS + 1);
      assert(
        (await mesh.waitForMesh(mesh.nodes, BOUND_MS)) !== undefined,
        "not every pair pings after the reboot",
      );
      assertEquals(again.map((s) => s.id), first.map((s) => s.id), "an identity changed");
      assertEquals(again.map((s) => s.address), first.map((s) => s.address), "an address moved");
      for (const s of again) assertEquals(s.former, 0);
      assert(
        /nets-file-refused .*fleet\.invite.*chmod 600/.test(founder.agent!.output()),
        founder.agent!.output().slice(-1500),
      );
      const after = await waitSettled(mesh);
      console.log(`fleet_test: records ${records} before the reboot, ${after} after`);
      // No admit, no leave: endpoints travel as announcements, not records.
      assertEquals(after, records, `records went from ${records} to ${after} on a reboot`);
      for (const node of fleet) {
        const log = node.agent!.output();
        assert(!/boot-join(-retry)? /.test(log), `node ${node.index} joined again: ${log}`);
      }
      // Leaving while nets.d still lists the net: done, with a warning that the next start rejoins.
      const left = await mesh.grid(fleet[0], ["leave-wireguard-net", NET]);
      assertEquals(left.code, 0, left.stderr);
      assert(/nets\.d\/fleet\.invite still lists net "fleet"/.test(left.stderr), left.stderr);
    } finally {
      await mesh.destroy();
    }
  },
});

/** Waits until every node holds the same number of records; that number. */
async function waitSettled(mesh: MeshLab): Promise<number> {
  let counts: number[] = [];
  const ok = await waitFor(
    async () => {
      counts = (await Promise.all(mesh.nodes.map((n) => standing(mesh, n)))).map((s) =>
        s?.records ?? -1
      );
      return counts.every((c) => c === counts[0] && c > 0);
    },
    BOUND_MS,
    250,
  );
  assert(ok, `records never agreed: ${counts}`);
  return counts[0];
}
