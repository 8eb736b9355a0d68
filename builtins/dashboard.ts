/**
 * `grid dashboard [--metrics] [--json]`: prints the URL of the running
 * agent's dashboard (`grid serve --dashboard ADDR`), with its access token
 * when the address is not loopback, to open in a browser. Reads what the
 * agent wrote under its home's `state/` (owner-only), so only the agent's
 * own user (or root) learns the token.
 *
 * @module
 */
import { ConfigError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { flagSet, parseFlags } from "./_flags.ts";

const USAGE = "grid dashboard [--metrics] [--json]";

/** The dashboard command. */
export const command: Command = {
  name: "dashboard",
  promise:
    "I ask for the address of this node's read-only dashboard, to look at the mesh; I will keep its access token to myself.",
  usage: USAGE,
  summary: "print the URL of the agent's live dashboard (grid serve --dashboard)",
  group: "mesh",
  options: [
    ["--metrics", "print the metrics URL instead (grid serve --metrics)"],
    ["--json", "print both as JSON"],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(
      args,
      { metrics: { type: "boolean" }, json: { type: "boolean" } },
      USAGE,
      { min: 0, max: 0 },
    );
    const { VIEWS_FILE } = await import("../modules/dashboard/mod.ts");
    const kind = flagSet(flags, "metrics") ? "metrics" : "dashboard";
    let urls: Record<string, unknown> = {};
    try {
      urls = JSON.parse(await Deno.readTextFile(`${ctx.node.home.state}/${VIEWS_FILE}`));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (flagSet(flags, "json")) {
      await ctx.io.stdout(JSON.stringify(urls, null, 2) + "\n");
      return 0;
    }
    const url = urls[kind];
    if (typeof url !== "string") {
      throw new ConfigError(
        `No ${kind} is running: start the agent with grid serve --${kind} 127.0.0.1:${
          kind === "metrics" ? 9341 : 7341
        }`,
      );
    }
    await ctx.io.stdout(`${url}\n`);
    return 0;
  },
};
