/**
 * `grid status [NAME] [--json]`: this node's id, its grid peers, and per net
 * the interface, tunnel address and every peer's name, address, endpoint,
 * latest handshake and bytes in and out (from `wg show IF dump`, whose
 * secrets the WireGuard layer drops before anything here sees it).
 *
 * @module
 */
import type { MeshArgs } from "../modules/wireguard/mod.ts";
import type { Command } from "./_command.ts";
import { meshArgs, parseFlags, runMeshOp } from "./_mesh_command.ts";

const USAGE = "grid status [NAME] [--json]";

/** The status command. */
export const command: Command = {
  name: "status",
  promise:
    "I ask for this node's view of its WireGuard nets and peers, and I promise to use it only to watch and repair the nets I belong to.",
  usage: USAGE,
  summary: "show this node, its nets and peers (aligned table, or --json)",
  async run(args, ctx) {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } }, USAGE, {
      min: 0,
      max: 1,
    });
    const report = await runMeshOp(ctx, "status", meshArgs({ name: positionals[0] }));
    await ctx.io.stdout(
      values.json ? JSON.stringify(report, null, 2) + "\n" : formatStatus(report, Date.now()),
    );
    return 0;
  },
};

function ago(unixSeconds: unknown, now: number): string {
  if (typeof unixSeconds !== "number" || unixSeconds <= 0) return "never";
  const s = Math.max(0, Math.round(now / 1000 - unixSeconds));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function bytes(n: unknown): string {
  const v = typeof n === "number" ? n : 0;
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
export function formatStatus(report: MeshArgs, now: number): string {
  const lines: string[] = [`node   ${report.node}`];
  const grid = (report.gridPeers as MeshArgs[] | undefined) ?? [];
  lines.push(
    report.agent
      ? `agent  running, ${grid.length} grid peer${grid.length === 1 ? "" : "s"} connected`
      : "agent  not running (state from disk)",
  );
  for (const p of grid) lines.push(`  peer ${p.id} ${p.direction} ${p.url ?? ""}`.trimEnd());
  const nets = (report.nets as MeshArgs[] | undefined) ?? [];
  if (nets.length === 0) lines.push("", "no nets: grid create-wireguard-net NAME, or join one");
  for (const n of nets) {
    lines.push(
      "",
      `net ${n.name}  ${n.status}  ${n.cidr}  ${n.policy === "open" ? "open" : "invite only"}${
        n.psk ? "  psk" : ""
      }`,
      `  interface ${n.interface} ${n.interfaceUp ? "up" : "down"}  address ${n.address ?? "-"}` +
        `  port ${n.listenPort}  endpoint ${n.endpoint ?? "-"}  members ${n.members}`,
    );
    const peers = (n.peers as MeshArgs[]) ?? [];
    if (peers.length === 0) {
      lines.push("  no peers yet");
      continue;
    }
    const rows = [["  NAME", "ADDRESS", "ENDPOINT", "HANDSHAKE", "RX", "TX", "NODE"]];
    for (const p of peers) {
      rows.push([
        `  ${p.name}`,
        String(p.address),
        String(p.endpoint ?? "-"),
        p.configured ? ago(p.latestHandshake, now) : "not configured",
        bytes(p.rxBytes),
        bytes(p.txBytes),
        String(p.id),
      ]);
    }
    lines.push(...alignRows(rows));
  }
  return lines.join("\n") + "\n";
}
