/**
 * The WireGuard layer's IPv6 addresses against real `ip`, `wg` and
 * wireguard-go (or kernel WireGuard) in a network namespace: an interface
 * gets its IPv4 and IPv6 addresses, a re-apply does nothing, a changed IPv6
 * address replaces the old one alone, and on a host with IPv6 turned off the
 * interface still comes up with its IPv4 address and a warning. Needs root;
 * skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import {
  applyInterface,
  generateKeyPair,
  readInterfaceState,
  removeInterface,
  type WgInterfaceSpec,
} from "../modules/wireguard/mod.ts";
import { createLab, labSkipReason } from "./lab/netns.ts";

const skip = await labSkipReason();
if (skip) console.log(`wg_ipv6_test: skipped, ${skip}`);

const PEER = "OGvVNZq9Gxay7guF20lP7VmtWv5rRaGEJHuvBaIakHE=";

Deno.test({
  name: "applyInterface() adds, keeps and replaces IPv6 addresses, and copes with IPv6 turned off",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const lab = await createLab(1);
    const dir = await Deno.makeTempDir({ prefix: "grid-wg-ipv6-" });
    const [node] = lab.nodes;
    const o = { netns: node.ns };
    try {
      const { privateKeyFile } = await generateKeyPair(dir);
      const spec: WgInterfaceSpec = {
        name: node.ifname,
        privateKeyFile,
        listenPort: 51820,
        addresses: ["10.98.0.1/24", "fd12:3456:789a:0:1:2:3:4/64"],
        peers: [{ publicKey: PEER, allowedIps: ["10.98.0.2/32", "fd12:3456:789a:0:5:6:7:8/128"] }],
      };
      await t.step("a new interface carries both addresses, the peer both routes", async () => {
        await applyInterface(spec, o);
        const state = (await readInterfaceState(node.ifname, o))!;
        assertEquals(state.link.addresses.sort(), ["10.98.0.1/24", "fd12:3456:789a:0:1:2:3:4/64"]);
        assertEquals(state.dump.peers[0].allowedIps.sort(), [
          "10.98.0.2/32",
          "fd12:3456:789a:0:5:6:7:8/128",
        ]);
        const route = await lab.run(node, ["ip", "-6", "route", "get", "fd12:3456:789a::99"]);
        assert(route.stdout.includes(`dev ${node.ifname}`), route.stdout);
      });
      await t.step("applying it again does nothing", async () => {
        assertEquals((await applyInterface(spec, o)).actions, []);
      });
      await t.step("a changed IPv6 address replaces the old one and nothing else", async () => {
        const moved = { ...spec, addresses: ["10.98.0.1/24", "fd12:3456:789a::9/64"] };
        assertEquals((await applyInterface(moved, o)).actions, [
          { kind: "remove-address", address: "fd12:3456:789a:0:1:2:3:4/64" },
          { kind: "add-address", address: "fd12:3456:789a::9/64" },
        ]);
        const state = (await readInterfaceState(node.ifname, o))!;
        assertEquals(state.link.addresses.sort(), ["10.98.0.1/24", "fd12:3456:789a::9/64"]);
        assertEquals((await applyInterface(moved, o)).actions, []);
      });
      await t.step("with IPv6 off the interface comes up with IPv4 and a warning", async () => {
        await removeInterface(node.ifname, o);
        for (const key of ["all", "default"]) {
          await lab.run(node, ["sysctl", "-q", "-w", `net.ipv6.conf.${key}.disable_ipv6=1`]);
        }
        const result = await applyInterface(spec, o);
        assert(result.warnings?.[0]?.includes("Cannot add IPv6 address"), JSON.stringify(result));
        const state = (await readInterfaceState(node.ifname, o))!;
        assertEquals(state.link.addresses, ["10.98.0.1/24"]);
        assert(state.link.up, "the link is up");
      });
    } finally {
      await removeInterface(node.ifname, o).catch(() => undefined); // the lab goes anyway
      await lab.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
