/**
 * End-to-end: members behind NATs reach each other with no server of grid's
 * own. Six grid agents in network namespaces with real WireGuard, each
 * working out its own address (`--advertise auto`):
 *
 * - r1, r2: reachable members on the "internet" bridge;
 * - a, b: each behind its own home-router NAT that keeps ports
 *   (`MASQUERADE`, endpoint-independent mapping, firewall dropping new
 *   inbound connections);
 * - c, d: each behind a symmetric NAT (`MASQUERADE --random-fully`, a new
 *   port per destination).
 *
 * It checks that a and b end on a punched direct path (WireGuard's endpoint
 * is the other's NAT), that c and d (and a or b with c or d) reach each
 * other through a relay that sees no plaintext of their traffic, that
 * killing the relay moves them to the other one within
 * {@link RELAY_MOVE_BOUND_MS}, that with no relay left they are reported
 * unreachable with the reason, and that restarting heals everything. Two
 * more: a pair whose routers drop UDP between them is relayed and moves to a
 * direct path once UDP passes again; two reachable members whose UDP is
 * blocked reach each other over their own grid link.
 *
 * Needs root, wg, wireguard-go, ip, ping, iptables and tcpdump; skipped with
 * a printed reason otherwise.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { MeshLab, type MeshNode, WG_PORT } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const skip = await labSkipReason(["ip", "wg", "wireguard-go", "ping", "iptables", "tcpdump"]);
if (skip) console.log(`nat_test: skipped, ${skip}`);
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

const NET = "nat";
/** Every pair pings within this long after the last join (direct wait 5 s + punch/relay). */
const WHOLE_BOUND_MS = 60_000;
/** A relayed pair whose relay died pings again within this long (the test's bound). */
const RELAY_MOVE_BOUND_MS = 20_000;
/** "gridgrid", the ping payload pattern the relay must never see. */
const MARKER = "6772696467726964";

interface PeerJson {
  id: string;
  name: string;
  endpoint: string | null;
  path: string;
  via: string | null;
  why: string | null;
}

async function peers(mesh: MeshLab, node: MeshNode): Promise<PeerJson[]> {
  return JSON.parse(await mesh.gridOk(node, ["status", NET, "--json"])).nets[0].peers;
}

async function nodeId(mesh: MeshLab, node: MeshNode): Promise<string> {
  return JSON.parse(await mesh.gridOk(node, ["status", "--json"])).node;
}

async function pathTo(mesh: MeshLab, from: MeshNode, to: MeshNode): Promise<PeerJson> {
  const id = await nodeId(mesh, to);
  const p = (await peers(mesh, from)).find((x) => x.id === id);
  if (!p) throw new Error(`node ${from.index} does not list node ${to.index}`);
  return p;
}

/** How many times `hex` (bytes) appears in the file at `path`. */
async function occurrences(path: string, hex: string): Promise<number> {
  const data = await Deno.readFile(path);
  const needle = Uint8Array.fromHex(hex);
  let count = 0;
  outer: for (let i = 0; i + needle.length <= data.length; i++) {
    for (let j = 0; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    count++;
  }
  return count;
}

async function pings(mesh: MeshLab, from: MeshNode, to: MeshNode, within: number): Promise<number> {
  const address = (await mesh.tunnelAddress(to))!;
  const start = performance.now();
  const ok = await waitFor(() => mesh.lab.ping(from, address, 1, 0.5), within, 100);
  if (!ok) throw new Error(`node ${from.index} cannot ping node ${to.index} within ${within} ms`);
  return performance.now() - start;
}

Deno.test(
  "members behind NATs: cone pairs punch through, symmetric pairs relay unread, relays fail over",
  LAB_TEST,
  async (t) => {
    const mesh = await MeshLab.create(6, {
      auto: true,
      nat: { 3: "cone", 4: "cone", 5: "symmetric", 6: "symmetric" },
    });
    const [r1, r2, a, b, c, d] = mesh.nodes;
    try {
      await mesh.startAgents();
      await mesh.createNet(r1, NET);
      // Every joiner reaches r1 (NATed members cannot be dialled: their invites would not work).
      for (const n of [r2, a, b, c, d]) {
        const out = await mesh.join(n, NET, await mesh.invite(r1, NET));
        assertEquals(out.code, 0, out.stderr);
      }

      await t.step("every pair pings, through NATs of both kinds", async () => {
        const ms = await mesh.waitForMesh(mesh.nodes, WHOLE_BOUND_MS);
        assert(
          ms !== undefined,
          `not whole: ${(await mesh.failingPairs()).map(([x, y]) => `${x.index}>${y.index}`)}`,
        );
        console.log(`nat_test: whole ${Math.round(ms)} ms after the last join`);
      });

      await t.step(
        "a and b punched through their NATs: WireGuard sends to each other's router",
        async () => {
          // The status follows WireGuard's counters once a second: give it a moment after the pings.
          await waitFor(async () => (await pathTo(mesh, a, b)).path === "punched", 5_000, 200);
          await waitFor(async () => (await pathTo(mesh, b, a)).path === "punched", 5_000, 200);
          const ab = await pathTo(mesh, a, b);
          const ba = await pathTo(mesh, b, a);
          assertEquals([ab.path, ba.path], ["punched", "punched"], JSON.stringify([ab, ba]));
          const dumpA = await mesh.wgDump(a);
          const keyB = await mesh.publicKey(b);
          const endpoint = dumpA!.peers.find((p) => p.publicKey === keyB)?.endpoint;
          assertEquals(endpoint, `${b.nat!.publicAddress}:${WG_PORT}`);
          const text = await mesh.gridOk(a, ["status", NET]);
          assert(/node4 .*direct \(punched\)/.test(text), text);
        },
      );

      let relay: MeshNode;
      await t.step("c and d (symmetric NATs) are relayed by r1 or r2; so is a with c", async () => {
        for (const [x, y] of [[c, d], [d, c], [a, c]]) {
          await waitFor(async () => (await pathTo(mesh, x, y)).path === "relay", 5_000, 200);
        }
        const cd = await pathTo(mesh, c, d);
        assertEquals(cd.path, "relay", JSON.stringify(cd));
        const ids = [await nodeId(mesh, r1), await nodeId(mesh, r2)];
        assert(ids.includes(cd.via!), `relay ${cd.via} is r1 or r2`);
        relay = cd.via === ids[0] ? r1 : r2;
        assertEquals((await pathTo(mesh, d, c)).path, "relay");
        assertEquals((await pathTo(mesh, a, c)).path, "relay");
        const text = await mesh.gridOk(c, ["status", NET]);
        assert(new RegExp(`node6 .*relay via node${relay.index}`).test(text), text);
      });

      await t.step(
        "the relay sees only ciphertext: a marker in c's pings never appears on it",
        async () => {
          const dir = mesh.lab.logDir;
          const onRelay = await mesh.lab.capture(`${dir}/relay.pcap`, relay);
          const onC = await mesh.lab.capture(`${dir}/c.pcap`, c); // the control: c's own tunnel has it
          const to = (await mesh.tunnelAddress(d))!;
          const out = await mesh.lab.run(c, [
            "ping",
            "-n",
            "-c",
            "5",
            "-i",
            "0.2",
            "-p",
            MARKER,
            to,
          ]);
          await onRelay.stop();
          await onC.stop();
          assertEquals(out.code, 0, out.stdout + out.stderr);
          const seenOnC = await occurrences(`${dir}/c.pcap`, MARKER);
          const seenOnRelay = await occurrences(`${dir}/relay.pcap`, MARKER);
          const relayBytes = (await Deno.stat(`${dir}/relay.pcap`)).size;
          console.log(
            `nat_test: marker seen ${seenOnC}x on c, ${seenOnRelay}x on the relay (${relayBytes} B captured)`,
          );
          assert(seenOnC >= 10, "the control capture shows the marker (so the search works)");
          assert(relayBytes > 5 * 100, "the relay carried the pings");
          assertEquals(seenOnRelay, 0);
        },
      );

      const other = () => (relay === r1 ? r2 : r1);
      await t.step(
        `the relay killed: c and d move to the other within ${RELAY_MOVE_BOUND_MS} ms`,
        async () => {
          await mesh.stopAgent(relay, "SIGKILL");
          const ms = await pings(mesh, c, d, RELAY_MOVE_BOUND_MS);
          await pings(mesh, d, c, 5_000);
          console.log(`nat_test: c pings d again ${Math.round(ms)} ms after the relay died`);
          await waitFor(async () => (await pathTo(mesh, c, d)).path === "relay", 5_000, 200);
          const cd = await pathTo(mesh, c, d);
          assertEquals([cd.path, cd.via], ["relay", await nodeId(mesh, other())]);
        },
      );

      await t.step("no relay left (the other runs --no-relay): unreachable, and why", async () => {
        const second = other();
        await mesh.stopAgent(second);
        await mesh.startAgent(second, 60_000, ["--no-relay"]);
        // The node with the smaller id arranges the pair and knows why; the other says it has no path.
        const [arranger, follower] = (await nodeId(mesh, c)) < (await nodeId(mesh, d))
          ? [c, d]
          : [d, c];
        const said = await waitFor(
          async () => {
            const p = await pathTo(mesh, arranger, follower);
            return p.path === "unreachable" && /no relay/.test(p.why ?? "") &&
              /--no-relay/.test(p.why ?? "");
          },
          60_000,
          500,
        );
        assert(said, JSON.stringify(await pathTo(mesh, arranger, follower)));
        const text = await mesh.gridOk(arranger, ["status", NET]);
        assert(new RegExp(`node${follower.index} unreachable: no relay`).test(text), text);
        const told = await waitFor(
          async () => (await pathTo(mesh, follower, arranger)).path === "unreachable",
          40_000,
          500,
        );
        assert(told, JSON.stringify(await pathTo(mesh, follower, arranger)));
      });

      await t.step("the relay restarted: everything heals", async () => {
        await mesh.startAgent(relay);
        const ms = await mesh.waitForMesh(mesh.nodes, WHOLE_BOUND_MS);
        assert(
          ms !== undefined,
          `not whole: ${(await mesh.failingPairs()).map(([x, y]) => `${x.index}>${y.index}`)}`,
        );
        await waitFor(async () => (await pathTo(mesh, c, d)).path === "relay", 5_000, 200);
        assertEquals((await pathTo(mesh, c, d)).path, "relay");
        console.log(`nat_test: whole again ${Math.round(ms)} ms after the relay restarted`);
      });
    } finally {
      await mesh.destroy();
    }
  },
);

Deno.test(
  "two members whose UDP is blocked between them reach each other over their grid link",
  LAB_TEST,
  async () => {
    const mesh = await MeshLab.create(2, { auto: true });
    const [x, y] = mesh.nodes;
    try {
      // UDP between them is dropped (a firewall that lets only TCP through): WireGuard cannot pass.
      for (const [from, to] of [[x, y], [y, x]]) {
        for (const chain of ["INPUT", "OUTPUT"]) {
          const dir = chain === "INPUT" ? "-s" : "-d";
          const out = await mesh.lab.run(from, [
            "iptables",
            "-A",
            chain,
            "-p",
            "udp",
            dir,
            to.address,
            "-j",
            "DROP",
          ]);
          assertEquals(out.code, 0, out.stderr);
        }
      }
      await mesh.startAgents();
      await mesh.formMesh(NET);
      const ms = await mesh.waitForMesh(mesh.nodes, WHOLE_BOUND_MS);
      assert(ms !== undefined, "x and y ping each other");
      await waitFor(async () => (await pathTo(mesh, x, y)).path === "relay", 5_000, 200);
      const xy = await pathTo(mesh, x, y);
      assertEquals([xy.path, xy.via], ["relay", await nodeId(mesh, y)]);
      const text = await mesh.gridOk(x, ["status", NET]);
      assert(/relay over grid link/.test(text), text);
    } finally {
      await mesh.destroy();
    }
  },
);

Deno.test(
  "a relayed pair moves to a direct path when one appears, and stays relayed while none does",
  LAB_TEST,
  async () => {
    // Short timers so the test need not wait minutes: a try to go direct every 3-6 s while relayed.
    const mesh = await MeshLab.create(3, {
      auto: true,
      nat: { 2: "cone", 3: "cone" },
      env: { GRID_PATH_TIMERS: "upgradeMs=3000,upgradeMaxMs=6000" },
    });
    const [r, a, b] = mesh.nodes;
    const block = async (on: boolean) => {
      for (const [x, y] of [[a, b], [b, a]]) {
        for (const flag of ["-d", "-s"]) {
          await mesh.router(x, [
            "iptables",
            on ? "-I" : "-D",
            "FORWARD",
            "-p",
            "udp",
            flag,
            y.nat!.publicAddress,
            "-j",
            "DROP",
          ]);
        }
      }
    };
    try {
      await block(true);
      await mesh.startAgents();
      await mesh.createNet(r, NET);
      for (const n of [a, b]) {
        const out = await mesh.join(n, NET, await mesh.invite(r, NET));
        assertEquals(out.code, 0, out.stderr);
      }
      assert((await mesh.waitForMesh(mesh.nodes, WHOLE_BOUND_MS)) !== undefined, "whole, relayed");
      await waitFor(async () => (await pathTo(mesh, a, b)).path === "relay", 5_000, 200);
      assertEquals((await pathTo(mesh, a, b)).path, "relay");
      // Tries to go direct fail while UDP is blocked; each goes back to the relay, which keeps working.
      const tried = await waitFor(
        () => [a, b].some((n) => /path-stays-relayed/.test(n.agent!.output())),
        30_000,
        500,
      );
      assert(tried, "a try to go direct was made and undone");
      await pings(mesh, a, b, 10_000);
      await block(false);
      const start = performance.now();
      const moved = await waitFor(
        async () => (await pathTo(mesh, a, b)).path === "punched",
        40_000,
        500,
      );
      assert(moved, JSON.stringify(await pathTo(mesh, a, b)));
      console.log(
        `nat_test: direct ${Math.round(performance.now() - start)} ms after UDP passed again`,
      );
      const keyB = await mesh.publicKey(b);
      const endpoint = (await mesh.wgDump(a))!.peers.find((p) => p.publicKey === keyB)?.endpoint;
      assertEquals(endpoint, `${b.nat!.publicAddress}:${WG_PORT}`);
      await pings(mesh, a, b, 5_000);
      await pings(mesh, b, a, 5_000);
      await waitFor(async () => (await pathTo(mesh, b, a)).path === "punched", 10_000, 500);
      assertEquals((await pathTo(mesh, b, a)).path, "punched");
    } finally {
      await mesh.destroy();
    }
  },
);
