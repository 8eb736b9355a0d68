/**
 * The LAN step of `grid join-wireguard-net NAME` with no invite and no URL:
 * asks the local network who holds open net NAME and picks the member to
 * join through (see modules/discovery/).
 *
 * @module
 */
import { UsageError } from "../kernel/base/mod.ts";
import type { FoundNet } from "../modules/discovery/mod.ts";
import type { CommandContext } from "./_command.ts";

/** How long a join listens on the LAN for answers. */
export const LAN_ASK_MS = 1500;

/** A net found on the LAN to join: its facts and the URL to join through. */
export interface LanTarget {
  /** The net as announced. */
  readonly net: FoundNet;
  /** The member's URL. */
  readonly via: string;
}

function writeErr(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}

/** One line per net: id, founder, members, URL. */
export function netLines(nets: FoundNet[]): string[] {
  return nets.map((n) =>
    `  --net ${n.net}  claimed founder ${n.founder}  ${n.members} member${
      n.members === 1 ? "" : "s"
    }  ${n.urls[0]}`
  );
}

/**
 * Asks the LAN for open net `name` (leaving out this node's own
 * announcements); the net to join, or undefined when none answered and no
 * `netId` was asked for. Several nets and no `netId`: lists them ("listed").
 */
export async function findOnLan(
  ctx: CommandContext,
  name: string,
  options: { netId?: string; selfId: string },
): Promise<LanTarget | "listed" | undefined> {
  const { askLan, chooseNet, foundNets } = await import("../modules/discovery/mod.ts");
  const terminal = Deno.stderr.isTerminal();
  // On a terminal: a line now, and a dot each quarter second while it listens.
  const dots = terminal ? () => writeErr(".") : undefined;
  if (terminal) writeErr(`grid: asking the local network for open net "${name}" `);
  const heard = await askLan(name, { timeoutMs: LAN_ASK_MS, signal: ctx.signal, onTick: dots });
  if (terminal) writeErr("\n");
  const choice = chooseNet(foundNets(heard, name, options.selfId), options.netId);
  switch (choice.kind) {
    case "none":
      return undefined;
    case "no-such-id":
      throw new UsageError(
        `No open net "${name}" with id ${options.netId} answered on the local network` +
          (choice.nets.length > 0 ? ` (found: ${choice.nets.map((n) => n.net).join(", ")})` : ""),
      );
    case "several":
      // Listed, and the command exits as for a usage error: its output is still shown.
      await ctx.io.stdout(
        `Open nets named "${name}" on the local network:\n${
          netLines(choice.nets).map((l) => l + "\n").join("")
        }`,
      );
      ctx.io.stderr(
        `grid: ${choice.nets.length} open nets named "${name}" answered on the local network: choose one with --net ID`,
      );
      return "listed";
    case "one": {
      const net = choice.net;
      ctx.io.stderr(
        `grid: found open net "${name}" on the local network: id ${net.net}, claimed founder ${net.founder}, ${net.members} member${
          net.members === 1 ? "" : "s"
        }; joining through ${net.urls[0]}`,
      );
      return { net, via: net.urls[0] };
    }
  }
}
