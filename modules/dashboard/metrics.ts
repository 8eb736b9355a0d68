/**
 * The node's metrics in the Prometheus text exposition format (version
 * 0.0.4): one `# HELP` and one `# TYPE` line per family, then its samples.
 * Counters end in `_total`, durations are `_seconds`, sizes `_bytes`. Pure:
 * it renders a {@link DashboardSnapshot}, so the numbers are those of
 * `grid status --json` taken at the same moment.
 *
 * @module
 */
import type { DashboardSnapshot } from "./snapshot.ts";

/** The content type of the exposition. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: [Labels, number][];
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  const num = Number.isFinite(value)
    ? String(value)
    : value > 0
    ? "+Inf"
    : value < 0
    ? "-Inf"
    : "NaN";
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${num}`;
}

/** Renders the snapshot as Prometheus text. */
export function renderMetrics(snap: DashboardSnapshot): string {
  const nowS = snap.at / 1000;
  // Families in the order they are declared here, which is the order they are written in.
  const families: Family[] = [];
  const f = (name: string, type: Family["type"], help: string): Family => {
    const family: Family = { name, type, help, samples: [] };
    families.push(family);
    return family;
  };
  const info = f("grid_node_info", "gauge", "This node: 1, labelled with its id");
  const rss = f("grid_agent_resident_memory_bytes", "gauge", "Resident memory of the agent");
  const gridPeers = f("grid_peers_connected", "gauge", "Grid peers with a link up now");
  const rounds = f("grid_anti_entropy_rounds_total", "counter", "Anti-entropy summary rounds");
  const reconciles = f("grid_reconcile_passes_total", "counter", "Reconcile passes over every net");
  const errors = f("grid_reconcile_errors_total", "counter", "Net reconciles that failed");
  const relayBytes = f("grid_relay_forwarded_bytes_total", "counter", "Bytes relayed for others");
  const relayCircuits = f("grid_relay_circuits", "gauge", "Pairs relayed for now");
  const members = f("grid_net_members", "gauge", "Live members of the net");
  const records = f("grid_net_records", "gauge", "Membership records held");
  const former = f("grid_net_former_members", "gauge", "Members that left or were revoked");
  const ifaceUp = f("grid_net_interface_up", "gauge", "1 when the net's WireGuard interface is up");
  const live = f("grid_net_self_live", "gauge", "1 while this node is a live member of the net");
  const handshake = f(
    "grid_peer_last_handshake_age_seconds",
    "gauge",
    "Seconds since the latest WireGuard handshake with the peer (absent: never)",
  );
  const rx = f("grid_peer_receive_bytes_total", "counter", "Bytes received from the peer");
  const tx = f("grid_peer_transmit_bytes_total", "counter", "Bytes sent to the peer");
  const link = f("grid_peer_link_up", "gauge", "1 when this node has a grid link to the peer");
  const inSync = f(
    "grid_peer_records_in_sync",
    "gauge",
    "1 when the peer held the same records at the last exchange, 0 when they differed",
  );
  const path = f("grid_peer_path", "gauge", "1 for how WireGuard reaches the peer now");

  const r = snap.report;
  info.samples.push([{ node: r.node }, 1]);
  rss.samples.push([{}, snap.rssBytes]);
  gridPeers.samples.push([{}, r.gridPeers.length]);
  rounds.samples.push([{}, snap.counters.antiEntropyRounds]);
  reconciles.samples.push([{}, snap.counters.reconciles]);
  errors.samples.push([{}, snap.counters.reconcileErrors]);
  if (r.relay) {
    relayBytes.samples.push([{}, r.relay.bytes]);
    relayCircuits.samples.push([{}, r.relay.circuits]);
  }
  for (const net of r.nets) {
    const n = { net: net.name };
    members.samples.push([n, net.members]);
    records.samples.push([n, net.records]);
    former.samples.push([n, net.former.length]);
    ifaceUp.samples.push([n, net.interfaceUp ? 1 : 0]);
    live.samples.push([n, net.status === "live" ? 1 : 0]);
    for (const p of net.peers) {
      const l = { net: net.name, peer: p.id, name: p.name };
      if (p.latestHandshake !== null) {
        handshake.samples.push([l, Math.max(0, Math.round(nowS - p.latestHandshake))]);
      }
      rx.samples.push([l, p.rxBytes]);
      tx.samples.push([l, p.txBytes]);
      link.samples.push([l, p.link === "up" ? 1 : 0]);
      if (p.records !== "unknown") inSync.samples.push([l, p.records === "same" ? 1 : 0]);
      path.samples.push([{ ...l, path: p.path }, 1]);
    }
  }
  const lines: string[] = [];
  for (const fam of families) {
    lines.push(`# HELP ${fam.name} ${fam.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`);
    lines.push(`# TYPE ${fam.name} ${fam.type}`);
    for (const [labels, value] of fam.samples) lines.push(sample(fam.name, labels, value));
  }
  return lines.join("\n") + "\n";
}
