/**
 * `grid invite NAME`: prints one line, an invite token: a capability signed
 * by this node naming the net, this agent's URL, an expiry and a use count.
 *
 * @module
 */
import { UsageError } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";
import { flagText, parseFlags } from "./_flags.ts";
import { meshFor } from "./_mesh_command.ts";
import {
  MAX_INVITE_TTL_MS,
  MAX_INVITE_USES,
  MembershipError,
  parseDuration,
} from "../modules/membership/mod.ts";

const USAGE = "grid invite NAME [--ttl DURATION] [--uses N] [--url ws://HOST:PORT] [--admin NODE]";

/** The invite command. */
export const command: Command = {
  name: "invite",
  promise:
    "I promise to vouch for whoever presents this invite: to admit them to the net while it is unexpired and unused, under the net's rules, and to answer for the invites I hand out.",
  usage: USAGE,
  summary: "print a one-line invite token for a WireGuard net",
  group: "mesh",
  options: [
    ["NAME", "the net"],
    ["--ttl DURATION", "how long it is valid: 30m, 1h, 7d (default 1h)"],
    ["--uses N", "how many nodes may join with it (default 1)"],
    ["--url ws://HOST:PORT", "the URL joiners dial (default this agent's)"],
    ["--admin NODE", "the admin that admits its holders (default: this node if it is one)"],
  ],
  async run(args, ctx) {
    const flags = parseFlags(
      args,
      {
        ttl: { type: "string" },
        uses: { type: "string" },
        url: { type: "string" },
        admin: { type: "string" },
      },
      USAGE,
      { min: 1, max: 1 },
    );
    const usesText = flagText(flags, "uses");
    const uses = usesText === undefined ? undefined : Number(usesText);
    if (
      usesText !== undefined && uses !== undefined &&
      (!/^[0-9]{1,4}$/.test(usesText) || uses < 1 || uses > MAX_INVITE_USES)
    ) {
      throw new UsageError(
        `Invalid --uses "${
          usesText.slice(0, 20)
        }": must be a whole number from 1 to ${MAX_INVITE_USES}`,
      );
    }
    const ttl = flagText(flags, "ttl");
    const r = await (await meshFor(ctx)).invite({
      name: flags.positionals[0],
      ttlMs: ttl === undefined ? undefined : parseTtl(ttl),
      uses,
      url: flagText(flags, "url"),
      admin: flagText(flags, "admin"),
    });
    await ctx.io.stdout(`${r.token}\n`);
    return 0;
  },
};

/** `--ttl` in milliseconds, or a one-line usage error naming the flag. */
function parseTtl(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    if (!(err instanceof MembershipError)) throw err;
    ms = 0;
  }
  if (ms <= 0 || ms > MAX_INVITE_TTL_MS) {
    throw new UsageError(
      `Invalid --ttl "${
        text.slice(0, 20)
      }": must be a positive duration like 30m, 12h, 7d (at most 365d)`,
    );
  }
  return ms;
}
