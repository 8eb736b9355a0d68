/**
 * LAN discovery as a service of the agent: announces the open nets this
 * node is a live member of (never an invite-only one), unless `grid serve
 * --no-announce` turned it off. A port it cannot bind is a warning, not a
 * stopped agent.
 *
 * @module
 */
import { oneLine, type Service, type ServiceContext } from "../../kernel/mod.ts";
import { isLive, memberReach, type Nets } from "../membership/mod.ts";
import type { AnnouncementFacts } from "./announcement.ts";
import { LanAnnouncer } from "./lan.ts";

/** The open nets in `nets` that `self` is a live member of, as announced facts. */
export function openNets(nets: Nets, port: number, fallbackUrl?: string): AnnouncementFacts[] {
  const out: AnnouncementFacts[] = [];
  for (const name of nets.names()) {
    const state = nets.get(name);
    if (!state || state.set.net.policy !== "open" || state.settings.revoked) continue;
    const self = state.set.members.get(nets.selfId);
    if (!self || !isLive(state.set, nets.selfId)) continue;
    let members = 0;
    for (const m of state.set.members.values()) if (m.status === "live") members++;
    out.push({
      net: state.set.net.id,
      name,
      founder: state.set.net.founder,
      members,
      url: memberReach(state, self).url ?? fallbackUrl ?? "",
      port,
    });
  }
  return out;
}

/** The discovery service; `nets` gives the mesh's nets once the mesh service started. */
export function discoveryService(nets: () => Nets | undefined): Service {
  return {
    name: "discovery",
    async start(ctx: ServiceContext): Promise<void> {
      if (ctx.announce === false) {
        ctx.log("info", "lan-announce-off", {});
        return;
      }
      const port = ctx.listenPort ?? 0;
      const fallback = ctx.advertise === "auto" ? undefined : ctx.advertise;
      try {
        await LanAnnouncer.start({
          identity: ctx.identity,
          nets: () => {
            const held = nets();
            return held ? openNets(held, port, fallback) : [];
          },
          log: ctx.log,
          signal: ctx.signal,
        });
      } catch (err) {
        ctx.log("warn", "lan-announce-unavailable", { why: oneLine(err) });
      }
    },
  };
}
