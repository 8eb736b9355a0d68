/**
 * `grid invite NAME`: prints one line, an invite token: a capability signed
 * by this node naming the net, this agent's URL, an expiry and a use count.
 *
 * @module
 */
import { UsageError } from "../kernel/base/mod.ts";
import type { Command, CommandContext } from "./_command.ts";
import { flagSet, flagText, parseFlags } from "./_flags.ts";

const USAGE =
  "grid invite NAME [--ttl DURATION] [--uses N] [--url ws://HOST:PORT] [--admin NODE] | grid invite list [NAME] [--json] | grid invite revoke NAME ID";

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
    ["list [NAME] [--json]", "the invites this node made: state, uses, expiry"],
    ["revoke NAME ID", "refuse an invite from now on (ID: its id, or the start of it)"],
  ],
  async run(args, ctx) {
    if (args[0] === "list" || args[0] === "revoke") return await manage(args, ctx);
    const flags = await parseFlags(
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
    const [{ MAX_INVITE_USES }, { meshFor }] = await Promise.all([
      import("../modules/membership/mod.ts"),
      import("./_mesh_command.ts"),
    ]);
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
      ttlMs: ttl === undefined ? undefined : await parseTtl(ttl),
      uses,
      url: flagText(flags, "url"),
      admin: flagText(flags, "admin"),
    });
    await ctx.io.stdout(`${r.token}\n`);
    return 0;
  },
};

/** `--ttl` in milliseconds, or a one-line usage error naming the flag. */
async function parseTtl(text: string): Promise<number> {
  const { MAX_INVITE_TTL_MS, MembershipError, parseDuration } = await import(
    "../modules/membership/mod.ts"
  );
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

/** `grid invite list [NAME] [--json]` and `grid invite revoke NAME ID`. */
async function manage(args: string[], ctx: CommandContext): Promise<number> {
  const [verb, ...rest] = args;
  const flags = await parseFlags(rest, { json: { type: "boolean" } }, USAGE, {
    min: verb === "revoke" ? 2 : 0,
    max: verb === "revoke" ? 2 : 1,
  });
  const [name, id] = flags.positionals;
  const { meshFor } = await import("./_mesh_command.ts");
  const mesh = await meshFor(ctx);
  if (verb === "revoke") {
    const r = await mesh.invites({ name, revoke: id });
    const gone = r.invites.find((i) => i.id.startsWith(id!))!;
    await ctx.io.stdout(
      `Revoked invite ${gone.id.slice(0, 16)} of net "${name}"; admins refuse it from now on\n`,
    );
    return 0;
  }
  const r = await mesh.invites({ name });
  if (flagSet(flags, "json")) {
    await ctx.io.stdout(JSON.stringify(r, null, 2) + "\n");
    return 0;
  }
  if (r.invites.length === 0) {
    await ctx.io.stdout("No invites made by this node\n");
    return 0;
  }
  const rows = [["NET", "ID", "STATE", "USED", "EXPIRES", "ADMIN"]];
  for (const i of r.invites) {
    rows.push([
      i.net,
      i.id.slice(0, 16),
      i.state,
      `${i.used}/${i.uses}`,
      i.expires,
      i.admin.slice(0, 12) + "…",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  await ctx.io.stdout(
    rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()).join("\n") +
      "\n",
  );
  return 0;
}
