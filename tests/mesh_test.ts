/**
 * End-to-end: real `grid serve` agents in network namespaces on a bridge,
 * forming a WireGuard mesh through the command line (SPEC.md section 4):
 * create, invite, join through several inviters, every pair pings through
 * the tunnels, status, an agent killed and restarted, revoke, leave,
 * admission rules, simultaneous joins, PSKs, and a capture of all bridge
 * traffic that must hold no private key, identity key or PSK.
 *
 * GRID_MESH_NODES sets N (default 4, at least 3). Needs root, wg,
 * wireguard-go, ip and ping; skipped with a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";
import { captureBlobs, findSecrets, type Secret } from "./lab/pcap.ts";

const N = meshSize(Deno.env.get("GRID_MESH_NODES"));

/** GRID_MESH_NODES as a node count (3 to 50; default 4). */
function meshSize(text: string | undefined): number {
  const n = Number(text ?? 4);
  if (!Number.isInteger(n) || n < 3 || n > 50) {
    throw new Error(`GRID_MESH_NODES must be 3..50, not "${text}"`);
  }
  return n;
}
const skip = await labSkipReason();
if (skip) console.log(`mesh_test: skipped, ${skip}`);
const tcpdumpMissing = skip === undefined ? await labSkipReason(["tcpdump"]) : undefined;
if (tcpdumpMissing) console.log(`mesh_test: traffic captures skipped, ${tcpdumpMissing}`);

/** Agents and wireguard-go run detached across steps by design; the lab removes them all. */
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

/** The peers listed by `grid status NAME --json`, as tunnel address and handshake time. */
interface StatusPeer {
  name?: string;
  address?: string;
  latestHandshake?: number;
}

async function statusPeers(mesh: MeshLab, node: MeshNode, net: string): Promise<StatusPeer[]> {
  const text = await mesh.gridOk(node, ["status", net, "--json"]);
  const json = JSON.parse(text);
  const status = Array.isArray(json.nets)
    ? json.nets.find((n: { net?: string; name?: string }) => (n.net ?? n.name) === net)
    : json;
  const peers: Record<string, unknown>[] = status?.peers ?? [];
  return peers.map((p) => ({
    name: typeof p.name === "string" ? p.name : undefined,
    address: typeof p.address === "string" ? p.address.replace(/\/\d+$/, "") : undefined,
    latestHandshake: handshakeSeconds(p.latestHandshake),
  }));
}

/** Unix seconds from a number (s or ms) or an ISO date. */
function handshakeSeconds(value: unknown): number | undefined {
  if (typeof value === "number") return value > 1e12 ? value / 1000 : value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms / 1000;
  }
  return undefined;
}

/** Public keys in the node's `wg show` (empty when it has no interface). */
async function wgPeerKeys(mesh: MeshLab, node: MeshNode): Promise<string[]> {
  return (await mesh.wgDump(node))?.peers.map((p) => p.publicKey) ?? [];
}

/** Every secret a node holds: its WireGuard private key and PSKs (from `wg`), its identity key and every key file. */
async function nodeSecrets(mesh: MeshLab, node: MeshNode): Promise<Secret[]> {
  const secrets: Secret[] = [];
  const key = (text: string) => Uint8Array.fromBase64(text.trim());
  const priv = await mesh.lab.run(node, ["wg", "show", node.ifname, "private-key"]);
  if (priv.code === 0 && priv.stdout.trim() !== "(none)") {
    secrets.push({ label: `node ${node.index} WireGuard private key`, bytes: key(priv.stdout) });
  }
  const psks = await mesh.lab.run(node, ["wg", "show", node.ifname, "preshared-keys"]);
  for (const line of psks.code === 0 ? psks.stdout.trim().split("\n") : []) {
    const psk = line.split("\t")[1];
    if (psk && psk !== "(none)") secrets.push({ label: `node ${node.index} PSK`, bytes: key(psk) });
  }
  for await (const path of walk(node.home)) {
    const bytes = await Deno.readFile(path).catch(() => undefined); // gone meanwhile, or a socket
    if (!bytes) continue;
    if (path.endsWith("ed25519.key")) {
      secrets.push({ label: `node ${node.index} identity key (pkcs8)`, bytes });
      secrets.push({
        label: `node ${node.index} identity key (seed)`,
        bytes: bytes.subarray(bytes.length - 32),
      });
      continue;
    }
    const text = new TextDecoder().decode(bytes).trim();
    const mode = (await Deno.stat(path)).mode ?? 0;
    if (/^[A-Za-z0-9+/]{43}=$/.test(text) && (mode & 0o077) === 0) {
      secrets.push({
        label: `node ${node.index} secret file ${path.slice(node.home.length)}`,
        bytes: key(text),
      });
    }
  }
  return secrets;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

/**
 * Asserts that the capture holds none of `secrets`. As a control that the
 * search can see what travels, the nodes' WireGuard public keys (which do
 * cross the wire, in membership records) must be found in it.
 */
async function assertNoSecretsIn(
  mesh: MeshLab,
  pcapPath: string,
  secrets: Secret[],
): Promise<void> {
  const pcap = await Deno.readFile(pcapPath);
  const blobs = captureBlobs(pcap);
  assert(
    pcap.length > 10_000 && blobs.length > 10,
    `the capture saw too little traffic (${pcap.length} bytes)`,
  );
  assert(
    secrets.length >= 2 * mesh.nodes.length,
    `found too few secrets to search for (${secrets.length})`,
  );
  const publics: Secret[] = [];
  for (const node of mesh.nodes) {
    const key = await mesh.publicKey(node);
    if (key) {
      publics.push({ label: `node ${node.index} public key`, bytes: Uint8Array.fromBase64(key) });
    }
  }
  const seen = findSecrets(blobs, publics);
  assert(
    publics.length > 0 && seen.length === publics.length,
    `control: public keys seen ${seen.length}/${publics.length}`,
  );
  assertEquals(findSecrets(blobs, secrets), [], "secrets seen on the wire");
}

Deno.test({
  ...LAB_TEST,
  name:
    `a ${N}-node mesh forms, survives an agent restart, drops revoked and leaving nodes, and leaks no secret`,
  async fn(t) {
    // N members, plus a latecomer that joins while one agent is down.
    const mesh = await MeshLab.create(N + 1);
    const members = mesh.nodes.slice(0, N);
    const late = mesh.nodes[N];
    const capture = tcpdumpMissing
      ? undefined
      : await mesh.lab.capture(`${mesh.lab.logDir}/mesh.pcap`);
    const secrets: Secret[] = [];
    try {
      const net = "mesh";
      await mesh.startAgents();

      await t.step(
        "create, invite through several inviters, join: every pair pings through the tunnel",
        async () => {
          await mesh.formMesh(net, { cidr: "10.66.0.0/24" }, members);
          const took = await mesh.waitForMesh(members, 60_000);
          assert(
            took !== undefined,
            `not whole: ${
              (await mesh.failingPairs(members)).map(([a, b]) => `${a.index}>${b.index}`)
            }`,
          );
          for (const node of members) secrets.push(...await nodeSecrets(mesh, node));
        },
      );

      await t.step("tunnel addresses are unique and inside the net's CIDR", async () => {
        const addresses = await Promise.all(members.map((n) => mesh.tunnelAddress(n)));
        assert(addresses.every((a) => a?.startsWith("10.66.0.")), `addresses ${addresses}`);
        assertEquals(new Set(addresses).size, N);
      });

      await t.step(
        "grid status --json on each node lists every other member with a recent handshake",
        async () => {
          const addresses = await Promise.all(members.map((n) => mesh.tunnelAddress(n)));
          const now = Date.now() / 1000;
          for (const node of members) {
            const peers = await statusPeers(mesh, node, net);
            const others = addresses.filter((_, i) => i !== node.index - 1).sort();
            assertEquals(
              peers.map((p) => p.address).sort(),
              others,
              `status of node ${node.index}`,
            );
            for (const peer of peers) {
              assert(
                peer.latestHandshake !== undefined && now - peer.latestHandshake < 180,
                `stale handshake on ${node.index}`,
              );
              // Members are named after their host; the lab names hosts nodeK.
              const k = addresses.indexOf(peer.address) + 1;
              assertEquals(peer.name, `node${k}`, `name of ${peer.address} on node ${node.index}`);
            }
            const text = (await mesh.grid(node, ["status", net, "--json"])).stdout +
              (await mesh.grid(node, ["status", net])).stdout;
            assertEquals(
              findSecrets([new TextEncoder().encode(text)], secrets),
              [],
              "secrets in status output",
            );
          }
        },
      );

      await t.step(
        "kill -9 one agent: tunnels keep working; a member admitted meanwhile is learned after restart; no duplicate or lost peers",
        async () => {
          const victim = members[1];
          await mesh.stopAgent(victim, "SIGKILL");
          assertEquals(await mesh.failingPairs(members), [], "tunnels broke when the agent died");
          const joined = await mesh.join(late, net, await mesh.invite(members[0], net));
          assertEquals(joined.code, 0, `the latecomer could not join: ${joined.stderr}`);
          await mesh.startAgent(victim);
          assert(
            await mesh.waitForMesh(mesh.nodes, 30_000) !== undefined,
            "not whole after restart",
          );
          await new Promise((r) => setTimeout(r, 1500)); // let a reconcile pass run after the restart
          for (const node of mesh.nodes) {
            const keys = await wgPeerKeys(mesh, node);
            assertEquals(keys.length, N, `peer count on node ${node.index}`);
            assertEquals(new Set(keys).size, N, `duplicate peers on node ${node.index}`);
            assertEquals(
              (await statusPeers(mesh, node, net)).length,
              N,
              `members lost on node ${node.index}`,
            );
          }
          secrets.push(...await nodeSecrets(mesh, late));
        },
      );

      /** ms until no node of `rest` has `key` as a peer, or undefined after 15 s. */
      const dropped = async (key: string, rest: MeshNode[]): Promise<number | undefined> => {
        const start = performance.now();
        const ok = await waitFor(
          async () => {
            const all = await Promise.all(rest.map((n) => wgPeerKeys(mesh, n)));
            return all.every((keys) => !keys.includes(key));
          },
          15_000,
          100,
        );
        return ok ? performance.now() - start : undefined;
      };
      /** Pings from `gone` to every node of `rest` fail (and its own address, if it kept one), the rest still mesh. */
      const assertCutOff = async (gone: MeshNode, rest: MeshNode[]) => {
        const goneAddress = await mesh.tunnelAddress(gone);
        for (const node of rest) {
          if (goneAddress) {
            assert(
              !(await mesh.lab.ping(node, goneAddress, 1)),
              `node ${node.index} still reaches ${gone.index}`,
            );
          }
          const address = await mesh.tunnelAddress(node);
          assert(
            address && !(await mesh.lab.ping(gone, address, 1)),
            `${gone.index} still reaches node ${node.index}`,
          );
        }
        assertEquals(await mesh.failingPairs(rest), [], "the rest of the mesh broke");
      };

      const revoked = late;
      await t.step(
        "revoke: within seconds no node has it in wg show, and pings to and from it fail",
        async () => {
          const address = await mesh.tunnelAddress(revoked);
          const key = await mesh.publicKey(revoked);
          assert(address && key);
          await mesh.gridOk(mesh.nodes[0], ["revoke", net, address]);
          const rest = members;
          const took = await dropped(key, rest);
          assert(took !== undefined && took < 10_000, `revoke took ${took} ms`);
          console.log(`    revoke propagated to ${rest.length} nodes in ${Math.round(took)} ms`);
          await assertCutOff(revoked, rest);
        },
      );

      const leaver = members[N - 1];
      await t.step(
        "leave: every node drops the leaver, and pings to and from it fail",
        async () => {
          const rest = members.slice(0, N - 1);
          const key = await mesh.publicKey(leaver);
          const address = await mesh.tunnelAddress(leaver);
          assert(key && address);
          await mesh.gridOk(leaver, ["leave-wireguard-net", net]);
          const took = await dropped(key, rest);
          assert(took !== undefined && took < 10_000, `leave took ${took} ms`);
          console.log(`    leave propagated to ${rest.length} nodes in ${Math.round(took)} ms`);
          for (const node of rest) {
            assert(
              !(await mesh.lab.ping(node, address, 1)),
              `node ${node.index} still reaches the leaver`,
            );
          }
          await assertCutOff(leaver, rest);
        },
      );

      if (capture) {
        await t.step(
          "no WireGuard private key, identity key or PSK crossed the bridge",
          async () => {
            await capture.stop();
            for (const node of mesh.nodes) secrets.push(...await nodeSecrets(mesh, node));
            await assertNoSecretsIn(mesh, capture.path, secrets);
          },
        );
      }
    } finally {
      await capture?.stop();
      await mesh.destroy();
    }
  },
});

Deno.test({
  ...LAB_TEST,
  name:
    "with --psk both ends of every pair hold the same PSK, every pair its own, and none crosses the bridge",
  async fn() {
    const n = Math.min(N, 4);
    const mesh = await MeshLab.create(n);
    const capture = tcpdumpMissing
      ? undefined
      : await mesh.lab.capture(`${mesh.lab.logDir}/psk.pcap`);
    try {
      await mesh.startAgents();
      await mesh.formMesh("quantum", { cidr: "10.67.0.0/24", psk: true });
      assert(
        await mesh.waitForMesh(mesh.nodes, 60_000) !== undefined,
        "the PSK mesh did not converge",
      );
      const keys = await Promise.all(mesh.nodes.map((node) => mesh.publicKey(node)));
      const psks = await Promise.all(mesh.nodes.map(async (node) => {
        const out = await mesh.lab.run(node, ["wg", "show", node.ifname, "preshared-keys"]);
        return new Map(out.stdout.trim().split("\n").map((l) => l.split("\t") as [string, string]));
      }));
      const pairKeys = new Set<string>();
      for (let a = 0; a < n; a++) {
        for (let b = a + 1; b < n; b++) {
          const ab = psks[a].get(keys[b]!);
          const ba = psks[b].get(keys[a]!);
          assert(ab && ab !== "(none)", `no PSK between ${a + 1} and ${b + 1}`);
          assertEquals(ab, ba, `PSKs of ${a + 1} and ${b + 1} differ`);
          pairKeys.add(ab);
        }
      }
      assertEquals(pairKeys.size, (n * (n - 1)) / 2, "two pairs share a PSK");
      if (capture) {
        await capture.stop();
        const secrets = (await Promise.all(mesh.nodes.map((node) => nodeSecrets(mesh, node))))
          .flat();
        assert(secrets.filter((s) => s.label.includes("PSK")).length === n * (n - 1), "PSKs found");
        await assertNoSecretsIn(mesh, capture.path, secrets);
      }
    } finally {
      await capture?.stop();
      await mesh.destroy();
    }
  },
});

/** Asserts a refused command: non-zero exit and one clear line on stderr. */
function assertRefused(out: { code: number; stderr: string }, what: string): void {
  assert(out.code !== 0, `${what} was admitted`);
  const lines = out.stderr.trim().split("\n").filter((l) => l.trim() !== "");
  assert(
    lines.length === 1 && lines[0].length > 10,
    `${what}: expected one clear line, got ${JSON.stringify(out.stderr)}`,
  );
}

Deno.test({
  ...LAB_TEST,
  name: "a closed net refuses no invite, an expired, a reused one-use and a forged invite",
  async fn(t) {
    const mesh = await MeshLab.create(3);
    try {
      const [founder, first, second] = mesh.nodes;
      await mesh.startAgents();
      await mesh.createNet(founder, "closed", { cidr: "10.68.0.0/24" });

      await t.step("no invite", async () => {
        assertRefused(await mesh.join(first, "closed"), "a join without an invite");
      });
      await t.step("an expired invite", async () => {
        const token = await mesh.invite(founder, "closed", ["--ttl", "1s"]);
        await new Promise((r) => setTimeout(r, 2100));
        assertRefused(await mesh.join(first, "closed", token), "an expired invite");
      });
      await t.step("a forged invite", async () => {
        const token = await mesh.invite(founder, "closed");
        const i = Math.floor(token.length * 0.6);
        const forged = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
        assertRefused(await mesh.join(first, "closed", forged), "a forged invite");
      });
      await t.step("a one-use invite admits once and refuses the second use", async () => {
        const token = await mesh.invite(founder, "closed", ["--uses", "1"]);
        const ok = await mesh.join(first, "closed", token);
        assertEquals(ok.code, 0, `first use refused: ${ok.stderr}`);
        assertRefused(await mesh.join(second, "closed", token), "a reused one-use invite");
        assert(
          await mesh.waitForMesh([founder, first], 30_000) !== undefined,
          "the admitted node pings",
        );
        assertEquals(
          await mesh.tunnelAddress(second),
          undefined,
          "the refused node got an interface",
        );
      });
    } finally {
      await mesh.destroy();
    }
  },
});

Deno.test({
  ...LAB_TEST,
  name: "an open net admits on the join promise alone",
  async fn() {
    const mesh = await MeshLab.create(2);
    try {
      const [founder, joiner] = mesh.nodes;
      await mesh.startAgents();
      await mesh.createNet(founder, "commons", { cidr: "10.69.0.0/24", open: true });
      await mesh.gridOk(joiner, ["peers", "add", founder.url]);
      const out = await mesh.join(joiner, "commons");
      assertEquals(out.code, 0, `open join refused: ${out.stderr}`);
      assert(
        await mesh.waitForMesh(mesh.nodes, 30_000) !== undefined,
        "the open net did not converge",
      );
    } finally {
      await mesh.destroy();
    }
  },
});

Deno.test({
  ...LAB_TEST,
  name:
    "two joins at the same moment through two different inviters end with no duplicate tunnel address",
  async fn() {
    const mesh = await MeshLab.create(5);
    try {
      const [, b, c, d, e] = mesh.nodes;
      await mesh.startAgents();
      await mesh.formMesh("race", { cidr: "10.70.0.0/24" }, mesh.nodes.slice(0, 3));
      assert(await mesh.waitForMesh(mesh.nodes.slice(0, 3), 30_000) !== undefined);
      const [tokenB, tokenC] = [await mesh.invite(b, "race"), await mesh.invite(c, "race")];
      const [joinD, joinE] = await Promise.all([
        mesh.join(d, "race", tokenB),
        mesh.join(e, "race", tokenC),
      ]);
      assertEquals([joinD.code, joinE.code], [0, 0], `joins: ${joinD.stderr} ${joinE.stderr}`);
      assert(await mesh.waitForMesh(mesh.nodes, 60_000) !== undefined, "not whole after the race");
      const addresses = await Promise.all(mesh.nodes.map((n) => mesh.tunnelAddress(n)));
      assertEquals(new Set(addresses).size, 5, `duplicate addresses: ${addresses}`);
      for (const node of mesh.nodes) {
        const keys = await wgPeerKeys(mesh, node);
        assertEquals(new Set(keys).size, 4, `node ${node.index} peers`);
      }
    } finally {
      await mesh.destroy();
    }
  },
});
