import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { escapeLabelValue, renderMetrics } from "./metrics.ts";
import { EVIL_NAME, testSnapshot } from "./_testing_snapshot.ts";
import { metricValue as value, parseExposition } from "./_testing_metrics.ts";

Deno.test("renderMetrics output parses by the text exposition rules", () => {
  const parsed = parseExposition(renderMetrics(testSnapshot()));
  for (const [name, type] of parsed.types) {
    assert(parsed.help.has(name), `${name} has a HELP line`);
    assert(name.startsWith("grid_"), `${name} starts with grid_`);
    assertEquals(type === "counter", name.endsWith("_total"), `${name}: _total iff a counter`);
  }
  assert(parsed.samples.length > 20);
});

Deno.test("renderMetrics gives the status report's numbers", async (t) => {
  const snap = testSnapshot();
  const p = parseExposition(renderMetrics(snap));
  const net = { net: "lab" };
  const rows: [string, Record<string, string>, number | undefined][] = [
    ["grid_net_members", net, 3],
    ["grid_net_records", net, 5],
    ["grid_net_former_members", net, 1],
    ["grid_net_interface_up", net, 1],
    ["grid_peer_last_handshake_age_seconds", { name: "beta" }, 12],
    ["grid_peer_last_handshake_age_seconds", { name: EVIL_NAME }, undefined],
    ["grid_peer_receive_bytes_total", { name: "beta" }, 1000],
    ["grid_peer_transmit_bytes_total", { name: "beta" }, 2000],
    ["grid_peer_link_up", { name: "beta" }, 1],
    ["grid_peer_link_up", { name: EVIL_NAME }, 0],
    ["grid_peer_records_in_sync", { name: EVIL_NAME }, 0],
    ["grid_peer_path", { name: EVIL_NAME, path: "relay" }, 1],
    ["grid_anti_entropy_rounds_total", {}, 4],
    ["grid_reconcile_errors_total", {}, 1],
    ["grid_agent_resident_memory_bytes", {}, 50_000_000],
    ["grid_peers_connected", {}, 1],
    ["grid_relay_forwarded_bytes_total", {}, 4096],
  ];
  for (const [name, labels, want] of rows) {
    await t.step(`${name} ${JSON.stringify(labels)}`, () => {
      assertEquals(value(p, name, labels), want);
    });
  }
});

Deno.test("escapeLabelValue escapes backslash, quote and line feed, nothing else", () => {
  assertEquals(escapeLabelValue('a\\b"c\nd<e>'), 'a\\\\b\\"c\\nd<e>');
});
