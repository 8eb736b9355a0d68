/**
 * End-to-end: a mesh whose underlay is IPv6 only. Real `grid serve` agents
 * in network namespaces on a bridge that carries only ULA addresses
 * (`fd77::N`, no IPv4), with URLs `ws://[fd77::N]:7340` and endpoints
 * `[fd77::N]:51820`: create, invite and join work, every pair pings over
 * the tunnels, `grid status` shows the IPv6 endpoints, and an agent with
 * `--advertise auto` finds its IPv6 address by itself and its peers follow
 * it when it changes; loopback and link-local IPv6 are refused (issue 15).
 *
 * Needs root, wg, wireguard-go, ip and ping; skipped with a printed reason
 * otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason();
if (skip) console.log(`ipv6_underlay_test: skipped, ${skip}`);

/** Agents and wireguard-go run detached across steps by design; the lab removes them all. */
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

/**
 * The IPv4 overlay addresses each node is pinged at ({@link MeshLab.tunnelAddress});
 * {@link ipv6Overlay} gives the IPv6 ones.
 */
async function ipv4Overlay(
  mesh: MeshLab,
  nodes: MeshNode[],
): Promise<Map<MeshNode, string | undefined>> {
  const out = new Map<MeshNode, string | undefined>();
  for (const node of nodes) out.set(node, await mesh.tunnelAddress(node));
  return out;
}

/** Each node's IPv6 tunnel address in net `net`, from its own `grid status --json`. */
async function ipv6Overlay(
  mesh: MeshLab,
  nodes: MeshNode[],
  net: string,
): Promise<Map<MeshNode, string | undefined>> {
  const out = new Map<MeshNode, string | undefined>();
  for (const node of nodes) {
    const report = JSON.parse(await mesh.gridOk(node, ["status", net, "--json"]));
    out.set(node, report.nets[0]?.address6 ?? undefined);
  }
  return out;
}

/** Waits until every pair among `nodes` pings over `addresses`; fails naming the pairs that do not. */
async function assertAllPing(
  mesh: MeshLab,
  nodes: MeshNode[],
  addresses: Map<MeshNode, string | undefined>,
  what: string,
): Promise<void> {
  let failed: [MeshNode, MeshNode][] = [];
  await waitFor(
    async () => (failed = await mesh.unreachablePairs(nodes, addresses, 0.5)).length === 0,
    60_000,
    200,
  );
  assertEquals(
    failed.map(([a, b]) => `${a.index}->${b.index}`),
    [],
    `pairs that do not ping ${what}`,
  );
}

for (const auto of [false, true]) {
  Deno.test(
    `a mesh forms on an IPv6-only underlay and pings over the overlay${
      auto ? " (--advertise auto)" : ""
    }`,
    LAB_TEST,
    async (t) => {
      const mesh = await MeshLab.create(auto ? 3 : 4, { underlay: "ipv6", auto });
      try {
        const nodes = mesh.nodes;
        await t.step("the bridge has no IPv4", async () => {
          const out = await mesh.lab.run(nodes[0], [
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "dev",
            "eth0",
          ]);
          assertEquals(out.stdout.trim(), "");
          assert(await mesh.lab.ping(nodes[0], nodes[1].address), "the IPv6 bridge works");
        });
        await t.step("create, invite and join over IPv6 URLs", async () => {
          await mesh.startAgents();
          await mesh.formMesh("six");
        });
        await t.step("every pair pings over the IPv4 overlay", async () => {
          await assertAllPing(mesh, nodes, await ipv4Overlay(mesh, nodes), "over the IPv4 overlay");
        });
        await t.step("and over the IPv6 overlay", async () => {
          const six = await ipv6Overlay(mesh, nodes, "six");
          assert(
            [...six.values()].every((a) => a?.startsWith("fd")),
            JSON.stringify([...six.values()]),
          );
          await assertAllPing(mesh, nodes, six, "over the IPv6 overlay");
        });
        await t.step("WireGuard peers sit at the IPv6 endpoints", async () => {
          const dump = await mesh.wgDump(nodes[0]);
          const endpoints = (dump?.peers ?? []).map((p) => p.endpoint).sort();
          const want = nodes.slice(1).map((n) => n.endpoint).sort();
          assertEquals(endpoints, want);
        });
        await t.step("grid status shows IPv6 endpoints and URLs, in text and JSON", async () => {
          const text = await mesh.gridOk(nodes[0], ["status", "six"]);
          assert(text.includes(nodes[1].endpoint), `status names ${nodes[1].endpoint}:\n${text}`);
          const json = JSON.parse(await mesh.gridOk(nodes[0], ["status", "six", "--json"]));
          const blob = JSON.stringify(json);
          assert(blob.includes(nodes[1].endpoint), `--json names ${nodes[1].endpoint}`);
        });
        if (auto) {
          await t.step(
            "a node's IPv6 address changes with its agent running: peers follow",
            async () => {
              const moved = nodes[2];
              await mesh.readdress(moved, "fd77::33");
              await assertAllPing(mesh, nodes, await ipv4Overlay(mesh, nodes), "after the move");
              const followed = await waitFor(
                async () => {
                  for (const node of nodes.filter((n) => n !== moved)) {
                    const endpoints = (await mesh.wgDump(node))?.peers.map((p) => p.endpoint) ?? [];
                    if (!endpoints.includes("[fd77::33]:51820")) return false;
                  }
                  const status = JSON.parse(
                    await mesh.gridOk(nodes[0], ["status", "six", "--json"]),
                  );
                  const peer = status.nets[0].peers.find((p: { name: string }) =>
                    p.name === "node3"
                  );
                  return peer?.endpoint === "[fd77::33]:51820";
                },
                30_000,
                500,
              );
              assert(followed, "every peer holds [fd77::33]:51820 and status shows it");
            },
          );
        }
        await t.step(
          "loopback, unspecified and link-local IPv6 are refused with one line",
          async () => {
            const rows: [string, string][] = [
              ["[::1]:51820", "only means this machine"],
              ["[::]:51820", "only means this machine"],
              ["[::ffff:127.0.0.1]:51820", "only means this machine"],
              ["[fe80::1]:51820", "link-local"],
              ["[fe80::1%eth0]:51820", "no IPv6 zone"],
            ];
            for (const [i, [endpoint, why]] of rows.entries()) {
              const out = await mesh.grid(nodes[0], [
                "create-wireguard-net",
                `bad${i}`,
                "--interface",
                `gridbad${i}`,
                "--cidr",
                `10.${90 + i}.0.0/16`,
                "--endpoint",
                endpoint,
              ]);
              assert(out.code !== 0, `${endpoint} accepted`);
              const lines = out.stderr.trim().split("\n");
              assertEquals(lines.length, 1, out.stderr);
              assert(lines[0].includes(why), `${endpoint}: ${lines[0]}`);
            }
          },
        );
      } finally {
        await mesh.destroy();
      }
    },
  );
}
