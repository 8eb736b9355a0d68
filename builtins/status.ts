/**
 * `grid status [NAME] [--json]`: this node's id, its grid peers, and per net
 * the interface, tunnel address and every peer's name, address, endpoint,
 * path (direct, punched through NATs, or relayed, and why not when it is
 * unreachable), latest handshake and bytes in and out (from `wg show IF dump`, whose
 * secrets the WireGuard layer drops before anything here sees it).
 *
 * @module
 */
import type { PeerStatus, StatusReport } from "../modules/mesh/mod.ts";
import type { Command } from "./_command.ts";
import { flagSet, parseFlags } from "./_flags.ts";

const USAGE = "grid status [NAME] [--json]";

/** The status command. */
export const command: Command = {
  name: "status",
  promise:
    "I ask for this node's view of its WireGuard nets and peers, and I promise to use it only to watch and repair the nets I belong to.",
  usage: USAGE,
  summary: "show this node, its nets and peers (aligned table, or --json)",
  group: "mesh",
  options: [
    ["NAME", "only this net"],
    ["--json", "the report as JSON (schema in docs/membership.md)"],
    [
      "exit code",
      "0 when all is well; 1 when the agent is not running, an interface is missing or down, or a peer is unreachable",
    ],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(args, { json: { type: "boolean" } }, USAGE, { min: 0, max: 1 });
    const { meshFor } = await import("./_mesh_command.ts");
    const report = await (await meshFor(ctx)).status({ name: flags.positionals[0] });
    await ctx.io.stdout(
      flagSet(flags, "json")
        ? JSON.stringify(report, null, 2) + "\n"
        : formatStatus(report, Date.now()),
    );
    return healthy(report) ? 0 : 1;
  },
};

/**
 * Whether all is well, for the exit code (a health check): the agent runs,
 * and every net this node is live in has its interface up and no peer
 * unreachable.
 */
export function healthy(report: StatusReport): boolean {
  if (!report.agent) return false;
  return report.nets.every((n) =>
    n.status !== "live" ||
    (n.interfaceState === "up" && n.peers.every((p) => p.path !== "unreachable"))
  );
}

/** An id cut to its first 12 characters for tables (`--json` has it whole). */
function short(id: string): string {
  return id.length > 13 ? `${id.slice(0, 12)}…` : id;
}

function ago(unixSeconds: number | null, now: number): string {
  if (unixSeconds === null || unixSeconds <= 0) return "never";
  const s = Math.max(0, Math.round(now / 1000 - unixSeconds));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function bytes(v: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${x.toFixed(1)} ${units[i]}`;
}

/** Left-aligned columns, two spaces apart. */
export function alignRows(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

/** The status report as text for people. */
export function formatStatus(report: StatusReport, now: number): string {
  const lines: string[] = [`node   ${report.node}`];
  const grid = report.gridPeers;
  lines.push(
    report.agent
      ? `agent  running, ${grid.length} grid peer${grid.length === 1 ? "" : "s"} connected`
      : "agent  not running (state from disk)",
  );
  for (const p of grid) lines.push(`  peer ${short(p.id)} ${p.direction} ${p.url ?? ""}`.trimEnd());
  const relay = report.relay;
  if (relay) {
    lines.push(
      relay.enabled
        ? `relay  ${relay.circuits} of ${relay.maxCircuits} circuits, ${
          bytes(relay.bytes)
        } forwarded` +
          (relay.dropped > 0 ? `, ${relay.dropped} packets dropped` : "")
        : "relay  off (--no-relay)",
    );
  }
  const nets = report.nets;
  if (nets.length === 0) lines.push("", "no nets: grid create-wireguard-net NAME, or join one");
  for (const n of nets) {
    lines.push(
      "",
      `net ${n.name}  ${n.status}${
        n.revokedBy ? ` (by ${nameOf(report, n.revokedBy)})` : ""
      }  ${n.role}${n.self ? ` ${n.self}` : ""}  ${n.cidr}${n.cidr6 ? ` ${n.cidr6}` : ""}  ${
        n.policy === "open" ? "open" : "invite only"
      }${n.psk ? "  psk" : ""}`,
      `  interface ${n.interface} ${n.interfaceState}  address ${n.address ?? "-"}` +
        (n.address6 ? ` ${n.address6}` : "") +
        `  port ${n.listenPort}  endpoint ${n.endpoint ?? "-"}  members ${n.members}`,
    );
    if (n.status === "revoked") {
      lines.push(
        `  this node was revoked: grid leave-wireguard-net ${n.name} removes the net here; this identity cannot rejoin`,
      );
    }
    const peers = n.peers;
    const former = n.former.map((f) =>
      `${f.name} (${f.status === "revoked" ? `revoked by ${nameOf(report, f.revokedBy)}` : "left"})`
    );
    if (peers.length === 0) {
      lines.push("  no peers yet");
      if (former.length > 0) lines.push(`  former: ${former.join(", ")}`);
      continue;
    }
    const rows = [
      [
        "  NAME",
        "ROLE",
        "ADDRESS",
        "IPV6",
        "ENDPOINT",
        "PATH",
        "HANDSHAKE",
        "LINK",
        "RECORDS",
        "RX",
        "TX",
        "NODE",
      ],
    ];
    for (const p of peers) {
      rows.push([
        `  ${p.name}`,
        p.role,
        p.address,
        p.address6 ?? "-",
        p.endpoint ?? "-",
        pathText(report, p),
        p.configured ? ago(p.latestHandshake, now) : "not configured",
        p.link === "up" ? "up" : `down${p.lastHeard === null ? "" : ` (${ago(p.lastHeard, now)})`}`,
        p.records === "unknown" ? "-" : p.records,
        bytes(p.rxBytes),
        bytes(p.txBytes),
        short(p.id),
      ]);
    }
    lines.push(...alignRows(rows));
    if (former.length > 0) lines.push(`  former: ${former.join(", ")}`);
    for (const p of peers) {
      if (p.path === "unreachable") lines.push(`  ${p.name} unreachable: ${p.why ?? "no path"}`);
    }
    const unlinked = peers.filter((p) => p.link === "down").map((p) => p.name);
    if (unlinked.length > 0) {
      lines.push(`  no grid link to: ${unlinked.join(", ")} (records reach them through others)`);
    }
    const differ = peers.filter((p) => p.records === "differ").map((p) => p.name);
    if (differ.length > 0) {
      lines.push(`  records differ from: ${differ.join(", ")} (catching up)`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A peer's path for people: `direct`, `direct (punched)`, `relay via NAME`, ... */
function pathText(report: StatusReport, p: PeerStatus): string {
  switch (p.path) {
    case "punched":
      return "direct (punched)";
    case "relay":
      return p.via === p.id ? "relay over grid link" : `relay via ${nameOf(report, p.via)}`;
    default:
      return p.path;
  }
}

/** A member's name as the report knows it (a peer, a former member), else its id. */
function nameOf(report: StatusReport, id: string | null): string {
  if (id === null) return "-";
  if (id === report.node) return "this node";
  for (const n of report.nets) {
    const known = n.peers.find((p) => p.id === id) ?? n.former.find((f) => f.id === id);
    if (known) return known.name;
  }
  return short(id);
}
