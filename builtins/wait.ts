/**
 * `grid wait [--timeout SECONDS]`: returns once this node's agent answers
 * with its mesh running (exit 0), or says it did not within the time (exit
 * 3). The grid service runs it after starting the agent, so units ordered
 * after it find the mesh up.
 *
 * @module
 */
import { NotFoundError, UsageError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { flagText, parseFlags } from "./_flags.ts";

const USAGE = "grid wait [--timeout SECONDS]";

/** The wait command. */
export const command: Command = {
  name: "wait",
  promise: "I ask only whether this node's agent is up; I promise to change nothing while I wait.",
  usage: USAGE,
  summary: "wait until this node's agent and its mesh answer (for service readiness)",
  group: "mesh",
  options: [["--timeout SECONDS", "give up after this long (default 60)"]],
  foreground: true,
  async run(args, ctx) {
    const flags = await parseFlags(args, { timeout: { type: "string" } }, USAGE, {
      min: 0,
      max: 0,
    });
    const text = flagText(flags, "timeout") ?? "60";
    const seconds = Number(text);
    if (!/^\d+$/.test(text) || seconds > 86_400) {
      throw new UsageError(`Invalid --timeout "${text}": whole seconds, at most 86400`);
    }
    const [{ callAgent, controlSocketPath, reject }, { MeshClient }] = await Promise.all([
      import("../kernel/mod.ts"),
      import("../modules/mesh/mod.ts"),
    ]);
    const socket = controlSocketPath(ctx.node.home.root);
    const mesh = new MeshClient(async (parms) =>
      (await callAgent(socket, parms)) ?? reject("route", "No agent runs here")
    );
    const deadline = Date.now() + seconds * 1000;
    while (true) {
      if (await mesh.ping().catch(() => false)) return 0;
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new NotFoundError(
      `No agent answered within ${seconds} s (start it with grid serve, or systemctl start grid)`,
    );
  },
};
