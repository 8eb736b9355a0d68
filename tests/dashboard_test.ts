/**
 * End-to-end: a 3-node mesh in network namespaces, node 1's agent serving the
 * dashboard (on its bridge address, so with the access token) and metrics (on
 * loopback), looked at in headless Chromium over the DevTools protocol: the
 * live graph shows the three nodes by name with fresh handshakes; after a
 * revoke the page shows the node gone within seconds, without a reload. Also:
 * no request without the token gets in, no private key or PSK is ever
 * served, a hostile member name stays text in the real page, and /metrics
 * agrees with `grid status --json`.
 *
 * The browser runs on the host; the namespace's ports reach it through a
 * Unix socket (tests/lab/forward.ts). The screenshot is saved in the test's
 * temporary folder (copied to GRID_DASHBOARD_SCREENSHOT when set). Needs
 * root, wg, wireguard-go, ip, ping (skipped with a printed reason otherwise)
 * and Debian's chromium (fails saying so when it is missing).
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { metricValue, parseExposition } from "../modules/dashboard/_testing_metrics.ts";
import { testSnapshot } from "../modules/dashboard/_testing_snapshot.ts";
import { Browser, browserMissing } from "./lab/browser.ts";
import { forwardToSocket } from "./lab/forward.ts";
import { MeshLab, type MeshNode } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const skip = await labSkipReason();
if (skip) console.log(`dashboard_test: skipped, ${skip}`);

/** Agents, forwarders and the browser run across steps by design; the lab and finally end them. */
const LAB_TEST = { ignore: skip !== undefined, sanitizeOps: false, sanitizeResources: false };

/** Starts a forwarder in `node`'s namespace from a socket in `dir` to `target`; the host port. */
async function reach(mesh: MeshLab, node: MeshNode, dir: string, name: string, target: string) {
  const socket = `${dir}/${name}.sock`;
  mesh.lab.spawn(node, `forward-${name}`, [
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}/tests/lab/forward.ts`,
    socket,
    target,
  ]);
  const ready = await waitFor(() => Deno.stat(socket).then(() => true, () => false), 30_000);
  assert(ready, `forwarder to ${target} did not start`);
  return forwardToSocket(socket);
}

/** Every WireGuard private key and PSK on `node`'s interface, base64. */
async function wgSecrets(mesh: MeshLab, node: MeshNode): Promise<string[]> {
  const out: string[] = [];
  const priv = await mesh.lab.run(node, ["wg", "show", node.ifname, "private-key"]);
  if (priv.code === 0) out.push(priv.stdout.trim());
  const psks = await mesh.lab.run(node, ["wg", "show", node.ifname, "preshared-keys"]);
  for (const line of psks.stdout.trim().split("\n")) {
    const key = line.split("\t")[1];
    if (key && key !== "(none)") out.push(key);
  }
  return out.filter((k) => k.length >= 40);
}

Deno.test({
  ...LAB_TEST,
  name: "the dashboard shows a 3-node mesh live in Chromium, and a revoked node leaves the page",
  async fn(t) {
    const missing = await browserMissing();
    if (missing) throw new Error(`dashboard_test: ${missing}`);
    const mesh = await MeshLab.create(3);
    const tmp = await Deno.makeTempDir({ prefix: "grid-dashboard-test-" });
    const forwards: { close(): void }[] = [];
    let browser: Browser | undefined;
    try {
      const a = mesh.nodes[0];
      await mesh.startAgent(a, 60_000, [
        "--dashboard",
        `${a.address}:7341`,
        "--metrics",
        "127.0.0.1:9341",
      ]);
      await mesh.startAgents(mesh.nodes.slice(1));
      await mesh.formMesh("lab", { cidr: "10.66.0.0/24", psk: true });
      assert(await mesh.waitForMesh(mesh.nodes, 60_000) !== undefined, "the mesh did not form");

      const dash = await reach(mesh, a, tmp, "dashboard", `${a.address}:7341`);
      const metrics = await reach(mesh, a, tmp, "metrics", "127.0.0.1:9341");
      forwards.push(dash, metrics);
      const printed = (await mesh.gridOk(a, ["dashboard"])).trim();
      const token = new URL(printed).searchParams.get("token");
      assert(token && token.length >= 40, `grid dashboard printed ${printed}`);
      assertEquals(new URL(printed).host, `${a.address}:7341`);
      const base = `http://127.0.0.1:${dash.port}/`;

      await t.step("a remote request without the token is refused", async () => {
        for (const path of ["", "app.js", "api/state", "events", "?token=not-it"]) {
          const res = await fetch(`${base}${path}`);
          await res.body?.cancel();
          assertEquals(res.status, 401, `/${path}`);
        }
      });

      await t.step("no private key or PSK in the served HTML, script or JSON", async () => {
        const secrets = await wgSecrets(mesh, a);
        assert(secrets.length >= 3, `found ${secrets.length} keys to look for (1 private, 2 PSKs)`);
        const auth = { authorization: `Bearer ${token}` };
        const served = await Promise.all(
          ["", "app.js", "app.css", "api/state"].map(async (p) =>
            await (await fetch(`${base}${p}`, { headers: auth })).text()
          ),
        );
        served.push(await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text());
        for (const text of served) {
          for (const secret of secrets) assert(!text.includes(secret), "a key was served");
          assert(!/"(private|preshared)\w*"\s*:/i.test(text), "no key field");
        }
      });

      browser = await Browser.launch(tmp);
      const page = browser;
      await t.step("the live graph shows the 3 nodes by name, with fresh handshakes", async () => {
        await page.navigate(`${base}?token=${token}`);
        const names = await page.waitFor<string[]>(
          `(() => {
            const names = [...document.querySelectorAll("svg.graph g.node")].map((g) => g.dataset.name);
            return document.getElementById("live")?.textContent === "live" && names.length === 3
              ? names.sort() : null;
          })()`,
          20_000,
        );
        assertEquals(names, ["node1", "node2", "node3"]);
        const ages = await page.evaluate<string[]>(
          `[...document.querySelectorAll("tr.peer td.handshake")].map((td) => td.dataset.age)`,
        );
        assertEquals(ages.length, 2);
        for (const age of ages) assert(age !== "" && Number(age) < 180, `handshake age "${age}"`);
        const edges = await page.evaluate<string[]>(
          `[...document.querySelectorAll("svg.graph line")].map((l) => l.dataset.handshake)`,
        );
        assertEquals(edges, ["fresh", "fresh"]);
        const history = await page.evaluate<string[]>(
          `[...document.querySelectorAll("tr.event")].map((r) => r.dataset.kind + " " + r.dataset.member)`,
        );
        for (const e of ["genesis node1", "admit node2", "admit node3"]) {
          assert(history.includes(e), `history has "${e}": ${history}`);
        }
        const promises = await page.evaluate<number>(
          `document.querySelectorAll("#promises li").length`,
        );
        assert(promises > 0, "the accepted promises are listed");
        // Some traffic through the tunnels, and a few pushes later the sparklines have a shape.
        const peers = await Promise.all(mesh.nodes.slice(1).map((n) => mesh.tunnelAddress(n)));
        await Promise.all(
          peers.map((address) =>
            mesh.lab.run(a, ["ping", "-q", "-c", "12", "-i", "0.25", "-s", "1200", address!])
          ),
        );
        await page.waitFor<boolean>(
          `document.querySelectorAll("svg.spark polyline").length >= 4`,
          6_000,
        );
        await page.screenshot(`${tmp}/dashboard.png`);
        const keep = Deno.env.get("GRID_DASHBOARD_SCREENSHOT");
        if (keep) await Deno.copyFile(`${tmp}/dashboard.png`, keep);
      });

      await t.step(
        "a revoked node is gone from the page within seconds, without a reload",
        async () => {
          await page.evaluate(`window.gridTestMark = "same page"`);
          await mesh.gridOk(a, ["revoke", "lab", "node3"]);
          const start = performance.now();
          const gone = await page.waitFor<boolean>(
            `window.gridTestMark === "same page" &&
            [...document.querySelectorAll("svg.graph g.node")].length === 2 &&
            !document.querySelector('svg.graph g.node[data-name="node3"]') &&
            !!document.querySelector('tr.event[data-kind="revoked"][data-member="node3"]')`,
            5_000,
          );
          assert(
            gone,
            `node3 still shown ${Math.round(performance.now() - start)} ms after the revoke`,
          );
          await page.screenshot(`${tmp}/dashboard-revoked.png`);
        },
      );

      await t.step("a hostile member name is shown as text, never run as HTML", async () => {
        const snap = testSnapshot();
        const evil = `<img src=x onerror="window.gridXss=1"><script>window.gridXss=2</script>`;
        snap.report.nets[0].peers[1].name = evil;
        snap.history[0].entries[1].member = evil;
        // The page's script is a classic one: its render() is the one the stream calls. Render
        // and look in one synchronous evaluation, so no push from the stream comes between.
        const seen = await page.evaluate<{ imgs: number; scripts: number; text: string }>(
          `(() => {
            render(${JSON.stringify(snap)});
            return {
              imgs: document.querySelectorAll("main img").length,
              scripts: document.querySelectorAll("main script").length,
              text: document.querySelector('tr.peer[data-id="bahwqcerac"] td').textContent,
            };
          })()`,
        );
        assertEquals(seen, { imgs: 0, scripts: 0, text: evil });
        await new Promise((r) => setTimeout(r, 300)); // an injected handler would have run by now
        assertEquals(await page.evaluate(`window.gridXss ?? null`), null);
      });

      await t.step("/metrics parses and agrees with grid status --json", async () => {
        const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
        const status = JSON.parse(await mesh.gridOk(a, ["status", "--json"]));
        const parsed = parseExposition(text);
        const net = status.nets.find((n: { name: string }) => n.name === "lab");
        assertEquals(metricValue(parsed, "grid_net_members", { net: "lab" }), net.members);
        assertEquals(metricValue(parsed, "grid_net_records", { net: "lab" }), net.records);
        assertEquals(metricValue(parsed, "grid_net_former_members", { net: "lab" }), 1);
        assertEquals(metricValue(parsed, "grid_node_info", { node: status.node }), 1);
        for (const p of net.peers) {
          const l = { net: "lab", peer: p.id, name: p.name };
          assertEquals(metricValue(parsed, "grid_peer_link_up", l), p.link === "up" ? 1 : 0);
          const age = metricValue(parsed, "grid_peer_last_handshake_age_seconds", l);
          assert(age !== undefined && Math.abs(age - (Date.now() / 1000 - p.latestHandshake)) < 10);
          const rx = metricValue(parsed, "grid_peer_receive_bytes_total", l)!;
          assert(rx > 0 && rx <= p.rxBytes, `rx ${rx} vs status ${p.rxBytes}`);
        }
        assert(metricValue(parsed, "grid_anti_entropy_rounds_total")! >= 1);
        assert(metricValue(parsed, "grid_agent_resident_memory_bytes")! > 10_000_000);
      });
    } finally {
      await browser?.close();
      for (const f of forwards) f.close();
      await mesh.destroy();
      await Deno.remove(tmp, { recursive: true }).catch(() => {/* kept or gone */});
    }
  },
});
