/**
 * `grid serve [--listen HOST:PORT] [--advertise URL] [--log-level LEVEL]`:
 * runs the agent in the foreground until Ctrl-C or SIGTERM. Never started as
 * a side effect of another command.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { oneLine, UsageError } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";
import { DEFAULT_LISTEN, parseLogLevel, runAgent } from "./_agent.ts";

const USAGE = "grid serve [--listen HOST:PORT] [--advertise URL] [--log-level LEVEL]";

/** The serve command. */
export const command: Command = {
  name: "serve",
  promise:
    "I promise to run this node's agent for as long as I choose: to answer my peers' requests by the promises this node accepts, to pass on only content I verified against its hash, and never to send a private key anywhere.",
  usage: USAGE,
  summary: "run the agent: listen for peers, dial known peers, serve lookups",
  foreground: true,
  async run(args, ctx) {
    let values: { listen?: string; advertise?: string; "log-level"?: string };
    try {
      ({ values } = parseArgs({
        args,
        options: {
          listen: { type: "string" },
          advertise: { type: "string" },
          "log-level": { type: "string" },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError(`${oneLine(err)}; usage: ${USAGE}`, { cause: err });
    }
    await runAgent({
      node: ctx.node,
      io: ctx.io,
      signal: ctx.signal,
      listen: values.listen ?? DEFAULT_LISTEN,
      advertise: values.advertise,
      logLevel: parseLogLevel(values["log-level"] ?? "info"),
    });
    return 0;
  },
};
