/**
 * The WireGuard layer against real `wg`, `ip` and wireguard-go (or kernel
 * WireGuard) in three network namespaces, with real pings through the
 * tunnels. Needs root; skipped with a printed reason otherwise.
 */
import { assert, assertEquals, assertRejects } from "../kernel/_testing_assert.ts";
import {
  applyInterface,
  generateKeyPair,
  generatePresharedKey,
  readInterfaceState,
  readStatus,
  removeInterface,
  type WgInterfaceSpec,
  type WgKeyPair,
  WireGuardError,
} from "../modules/wireguard/mod.ts";
import { createLab, type LabNet, type LabNode, labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason();
if (skip) console.log(`wg_apply_test: skipped, ${skip}`);

const PORT = 51820;
const tunnel = (node: LabNode): string => `10.99.0.${node.index}`;

async function ifindex(lab: LabNet, node: LabNode): Promise<number> {
  const out = await lab.run(node, ["ip", "-j", "link", "show", "dev", node.ifname]);
  return JSON.parse(out.stdout)[0].ifindex;
}

async function wireguardGoPids(lab: LabNet, node: LabNode): Promise<number[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "pids", node.ns], stdout: "piped" })
    .output();
  const pids = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => ""); // exited meanwhile
    if (cmdline.startsWith("wireguard-go\0") && cmdline.includes(node.ifname)) found.push(pid);
  }
  void lab;
  return found;
}

Deno.test({
  name: "applyInterface() builds, keeps and trims real tunnels between three namespaces",
  ignore: skip !== undefined,
  // wireguard-go runs detached and outlives single steps by design; every one is removed at the end.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const lab = await createLab(3);
    const dir = await Deno.makeTempDir({ prefix: "grid-wg-apply-" });
    try {
      const [a, b, c] = lab.nodes;
      const keys = new Map<LabNode, WgKeyPair>();
      for (const node of lab.nodes) keys.set(node, await generateKeyPair(`${dir}/${node.index}`));
      const psk = await generatePresharedKey(`${dir}/psk-a-b`);
      const specOf = (self: LabNode, others: LabNode[], port = PORT): WgInterfaceSpec => ({
        name: self.ifname,
        privateKeyFile: keys.get(self)!.privateKeyFile,
        listenPort: port,
        addresses: [`${tunnel(self)}/24`],
        peers: others.map((o) => ({
          publicKey: keys.get(o)!.publicKey,
          endpoint: `${o.address}:${PORT}`,
          allowedIps: [`${tunnel(o)}/32`],
          presharedKeyFile: [self, o].includes(a) && [self, o].includes(b) ? psk : undefined,
          persistentKeepalive: o === c ? 5 : undefined,
        })),
      });
      const specs = new Map<LabNode, WgInterfaceSpec>([
        [a, specOf(a, [b, c])],
        [b, specOf(b, [a, c])],
        [c, specOf(c, [a, b])],
      ]);

      await t.step("a fresh apply creates the interface and every pair pings", async () => {
        for (const node of lab.nodes) {
          const result = await applyInterface(specs.get(node)!, { netns: node.ns });
          assert(
            result.created === "userspace" || result.created === "kernel",
            `created ${result.created}`,
          );
          assertEquals(result.actions[0], { kind: "create-link" });
        }
        for (const from of lab.nodes) {
          for (const to of lab.nodes) {
            // Up to 8 tries: a keepalive peer sent its first handshake before the other
            // end existed, and WireGuard retries a handshake only after 5 s.
            if (from !== to) {
              assert(await lab.ping(from, tunnel(to), 8), `${from.ns} cannot ping ${tunnel(to)}`);
            }
          }
        }
        const status = await readStatus(a.ifname, { netns: a.ns });
        assertEquals(status.peers.length, 2);
        assert(
          status.peers.every((p) => p.latestHandshake !== undefined),
          "every peer shook hands",
        );
      });

      await t.step("the pair with a PSK holds the same one on both ends, others none", async () => {
        const pskOf = async (node: LabNode) => {
          const out = await lab.run(node, ["wg", "show", node.ifname, "preshared-keys"]);
          return new Map(
            out.stdout.trim().split("\n").map((l) => l.split("\t") as [string, string]),
          );
        };
        const [onA, onB, onC] = [await pskOf(a), await pskOf(b), await pskOf(c)];
        const secret = (await Deno.readTextFile(psk)).trim();
        assertEquals(onA.get(keys.get(b)!.publicKey), secret);
        assertEquals(onB.get(keys.get(a)!.publicKey), secret);
        assertEquals(onA.get(keys.get(c)!.publicKey), "(none)");
        assertEquals(onC.get(keys.get(a)!.publicKey), "(none)");
      });

      await t.step("re-applying the same spec does nothing and the tunnel lives on", async () => {
        const before = await readStatus(a.ifname, { netns: a.ns });
        const index = await ifindex(lab, a);
        const pids = await wireguardGoPids(lab, a);
        for (const node of lab.nodes) {
          assertEquals((await applyInterface(specs.get(node)!, { netns: node.ns })).actions, []);
        }
        assert(await lab.ping(a, tunnel(b)));
        const after = await readStatus(a.ifname, { netns: a.ns });
        const peerB = keys.get(b)!.publicKey;
        const was = before.peers.find((p) => p.publicKey === peerB)!;
        const now = after.peers.find((p) => p.publicKey === peerB)!;
        assertEquals(now.latestHandshake, was.latestHandshake, "no new handshake was needed");
        assert(now.rxBytes > was.rxBytes && now.txBytes > was.txBytes, "counters kept counting");
        assertEquals(await ifindex(lab, a), index, "the link was not recreated");
        assertEquals(await wireguardGoPids(lab, a), pids, "wireguard-go was not restarted");
      });

      await t.step("a moved endpoint is one peer update and the tunnel follows it", async () => {
        const moved = specOf(b, [a, c], PORT + 1);
        assertEquals((await applyInterface(moved, { netns: b.ns })).actions, [
          { kind: "set-listen-port", listenPort: PORT + 1 },
        ]);
        const specA = specOf(a, [b, c]);
        specA.peers[0].endpoint = `${b.address}:${PORT + 1}`;
        assertEquals((await applyInterface(specA, { netns: a.ns })).actions, [
          {
            kind: "update-peer",
            publicKey: keys.get(b)!.publicKey,
            changes: { endpoint: `${b.address}:${PORT + 1}` },
          },
        ]);
        specs.set(a, specA);
        specs.set(b, moved);
        assert(await lab.ping(a, tunnel(b)), "ping after the endpoint moved");
      });

      await t.step("a removed peer is dropped and pings to it stop", async () => {
        const specA = {
          ...specs.get(a)!,
          peers: specs.get(a)!.peers.filter((p) => p.publicKey !== keys.get(c)!.publicKey),
        };
        assertEquals((await applyInterface(specA, { netns: a.ns })).actions, [
          { kind: "remove-peer", publicKey: keys.get(c)!.publicKey },
        ]);
        const state = await readInterfaceState(a.ifname, { netns: a.ns });
        assertEquals(state?.dump.peers.map((p) => p.publicKey), [keys.get(b)!.publicKey]);
        assert(!(await lab.ping(a, tunnel(c), 2)), "a still reaches c");
        assert(!(await lab.ping(c, tunnel(a), 2)), "c still reaches a");
        assert(await lab.ping(a, tunnel(b)), "a lost b too");
      });

      await t.step("a wireguard-go killed with -9 is recreated by the next apply", async () => {
        for (const pid of await wireguardGoPids(lab, c)) Deno.kill(pid, "SIGKILL");
        assert(await waitFor(async () => (await wireguardGoPids(lab, c)).length === 0, 3000));
        // b listens on PORT + 1 since the endpoint step.
        const specC = specOf(c, [a, b]);
        specC.peers[1].endpoint = `${b.address}:${PORT + 1}`;
        const result = await applyInterface(specC, { netns: c.ns });
        assertEquals(result.actions[0], { kind: "create-link" });
        assert(await lab.ping(c, tunnel(b), 8), "c reaches b again");
      });

      await t.step("a peer wg cannot add fails with context naming the interface", async () => {
        // a's applied state since the removal step: c is not a peer.
        const applied = specs.get(a)!;
        const spec = {
          ...applied,
          peers: applied.peers.filter((p) => p.publicKey !== keys.get(c)!.publicKey),
        };
        // wg refuses a PSK file that holds no key (caught before anything is set).
        const badPsk = `${dir}/bad-psk`;
        await Deno.writeTextFile(badPsk, "not a key\n", { mode: 0o600 });
        const bad = {
          ...spec,
          peers: [...spec.peers, {
            publicKey: keys.get(c)!.publicKey,
            endpoint: `${c.address}:${PORT}`,
            allowedIps: [`${tunnel(c)}/32`],
            presharedKeyFile: badPsk,
          }],
        };
        await assertRejects(
          () => applyInterface(bad, { netns: a.ns }),
          WireGuardError,
          `Cannot add peer to "${a.ifname}"`,
        );
        assertEquals(
          (await applyInterface(spec, { netns: a.ns })).actions,
          [],
          "nothing half-applied",
        );
      });

      await t.step(
        "an interface name held by wireguard-go in another namespace is refused",
        async () => {
          const err = await assertRejects(
            () => applyInterface({ ...specs.get(b)!, name: a.ifname }, { netns: b.ns }),
            WireGuardError,
            "another network namespace",
          );
          assert(err.message.includes(a.ifname));
        },
      );

      await t.step(
        "removeInterface() deletes the link, stops wireguard-go, and is idempotent",
        async () => {
          for (const node of lab.nodes) {
            await removeInterface(node.ifname, { netns: node.ns });
            await removeInterface(node.ifname, { netns: node.ns });
            assertEquals(await readInterfaceState(node.ifname, { netns: node.ns }), undefined);
            assertEquals(await wireguardGoPids(lab, node), []);
          }
        },
      );
    } finally {
      await lab.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
