/**
 * End-to-end, as an operator would get it wrong: the exact commands of
 * issue 13's "must not happen" list, run for real in network namespaces,
 * end with one clear line and a non-zero exit, and change nothing: `eth0`
 * and `lo` stay, no net is written, no invite is spent.
 *
 * Needs root, wg, wireguard-go, ip and setpriv; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "setpriv"]);
if (skip) console.log(`operator_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

/** Without CAP_NET_ADMIN, as a user who is not root in effect would run it. */
const NO_NET_ADMIN = ["setpriv", "--bounding-set=-net_admin"];

function oneLine(out: { code: number; stderr: string }, pattern: RegExp): void {
  assert(out.code !== 0, `exits non-zero (got ${out.code})`);
  const lines = out.stderr.trim().split("\n");
  assertEquals(lines.length, 1, out.stderr);
  assert(pattern.test(lines[0]), lines[0]);
}

async function netsOn(mesh: MeshLab, node: MeshNode): Promise<string[]> {
  const out = await mesh.grid(node, ["status", "--json"]);
  return JSON.parse(out.stdout).nets.map((n: { name: string }) => n.name);
}

Deno.test("operator foot-guns end with one line and change nothing", LAB_TEST, async (t) => {
  const mesh = await MeshLab.create(2);
  const [a, b] = mesh.nodes;
  try {
    await t.step("create on eth0 or lo is refused, and the link stays", async () => {
      for (const iface of ["eth0", "lo"]) {
        const out = await mesh.grid(a, ["create-wireguard-net", "x", "--interface", iface]);
        oneLine(out, /exists and is not a WireGuard interface/);
        assertEquals(
          (await mesh.lab.run(a, ["ip", "link", "show", iface])).code,
          0,
          `${iface} is still there`,
        );
      }
      assertEquals(await netsOn(mesh, a), []);
    });

    await t.step("a loopback --advertise or --endpoint is refused", async () => {
      for (const url of ["ws://127.0.0.1:7340", "ws://localhost:7340"]) {
        const out = await mesh.grid(
          a,
          ["serve", "--listen", "0.0.0.0:7340", "--advertise", url],
          30_000,
        );
        oneLine(out, /only means this machine/);
      }
      const out = await mesh.grid(a, [
        "create-wireguard-net",
        "y",
        "--endpoint",
        "127.0.0.1:51820",
      ]);
      oneLine(out, /only means this machine/);
      assertEquals(await netsOn(mesh, a), []);
    });

    await t.step(
      "without CAP_NET_ADMIN, create and join refuse before anything is written or spent",
      async () => {
        const out = await mesh.grid(a, ["create-wireguard-net", "z"], 60_000, NO_NET_ADMIN);
        oneLine(out, /needs root or CAP_NET_ADMIN/);
        assertEquals(out.code, 10, "the WireGuard exit code");
        assertEquals(await netsOn(mesh, a), []);
        await mesh.startAgent(b);
        await mesh.createNet(b, "net");
        const token = await mesh.invite(b, "net");
        const records = async () =>
          JSON.parse(await mesh.gridOk(b, ["status", "net", "--json"])).nets[0].records;
        const before = await records();
        const join = await mesh.grid(
          a,
          ["join-wireguard-net", "net", token, ...mesh.wgFlags(a)],
          60_000,
          NO_NET_ADMIN,
        );
        assert(join.code !== 0, "the join fails");
        assert(/needs root or CAP_NET_ADMIN/.test(join.stderr), join.stderr);
        assertEquals(await records(), before, "no record written: the invite is unspent");
        assertEquals(await netsOn(mesh, a), []);
        // The same invite still works for a node that can.
        const ok = await mesh.grid(a, ["status"]); // (no agent on a: exit 1, but it runs)
        assertEquals(ok.code, 1);
        await mesh.startAgent(a);
        const joined = await mesh.join(a, "net", token);
        assertEquals(joined.code, 0, joined.stderr);
      },
    );
  } finally {
    await mesh.destroy();
  }
});
