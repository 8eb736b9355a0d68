/**
 * `grid join-wireguard-net NAME [INVITE]`: the joiner's promise and the join.
 * With an agent running, the agent joins and this returns once the local
 * interface is up; with none, this process joins and stays in the
 * foreground as the agent.
 *
 * @module
 */
import { UsageError } from "../kernel/mod.ts";
import { checkInviteFor, isLive } from "../modules/membership/mod.ts";
import { callMesh } from "../modules/wireguard/mod.ts";
import type { Command, CommandContext } from "./_command.ts";
import { meshArgs, openOfflineMesh, parseFlags, parsePort } from "./_mesh_command.ts";

/** The promise a joiner makes; its hash travels in the signed member request. */
export const JOIN_PROMISE_TEXT =
  "I promise to use the public keys, endpoints and tunnel addresses I receive from this WireGuard net only to connect to its members, and not to abuse the net or its members. I will generate my own private key on this machine and never send it to anyone. In return I ask the net to admit me and give me a tunnel address.";

const USAGE =
  "grid join-wireguard-net NAME [INVITE | --via ws://HOST:PORT] [--interface IF] [--listen-port N] [--endpoint HOST:PORT] [--name NODE-NAME] [--listen HOST:PORT] [--advertise URL]";

/** How long the foreground join waits for its own agent's mesh service. */
const AGENT_START_MS = 15_000;

/** The join command. */
export const command: Command = {
  name: "join-wireguard-net",
  promise: JOIN_PROMISE_TEXT,
  usage: "grid join-wireguard-net NAME [INVITE] [--endpoint HOST:PORT]",
  summary: "join a WireGuard net (with an invite, or on the promise alone for an open net)",
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        via: { type: "string" },
        interface: { type: "string" },
        "listen-port": { type: "string" },
        endpoint: { type: "string" },
        name: { type: "string" },
        listen: { type: "string" },
        advertise: { type: "string" },
      },
      USAGE,
      { min: 1, max: 2 },
    );
    const [name, second] = positionals;
    let via = values.via as string | undefined;
    let invite: string | undefined = second;
    if (second && /^wss?:\/\//.test(second)) {
      if (via) throw new UsageError("Give a member's URL once: as INVITE or with --via");
      via = second;
      invite = undefined;
    }
    // Checked before anything starts or binds: a bad invite is one line and nothing else.
    if (invite !== undefined) await checkInviteFor(invite, name);
    const join = meshArgs({
      name,
      invite,
      via,
      interface: values.interface,
      listenPort: parsePort(values["listen-port"]),
      endpoint: values.endpoint,
      nodeName: values.name,
    });
    const inAgent = await callMesh(ctx.call, "ping", {});
    if (inAgent !== undefined) {
      await report(ctx, await callMesh(ctx.call, "join", join) ?? {});
      return 0;
    }
    // Already a member and no agent: say so, rather than becoming the agent.
    const offline = await openOfflineMesh(ctx);
    const state = offline.nets.get(name);
    if (state && isLive(state.set, offline.selfId)) {
      await report(ctx, {
        already: true,
        name,
        address: state.set.members.get(offline.selfId)?.address,
        interface: state.settings.interface,
      });
      return 0;
    }
    return await joinInForeground(ctx, join, values);
  },
};

async function report(ctx: CommandContext, result: Record<string, unknown>): Promise<void> {
  if (result.already === true) {
    await ctx.io.stdout(
      `Already a member of net "${result.name}" as ${result.address} on ${result.interface}\n`,
    );
    return;
  }
  await ctx.io.stdout(
    `Joined net "${result.name}" as ${result.address} on ${result.interface}` +
      ` (admitted by ${result.admittedBy})\n` +
      (typeof result.promise === "string"
        ? `The net's promise to this node: ${result.promise}\n`
        : ""),
  );
}

/** Output held back until the join succeeds, and dropped when it fails. */
class HeldOutput {
  #held: (() => void)[] | undefined = [];
  /** Runs `write` now once released, else later at {@link release} (or never). */
  put(write: () => void): void {
    if (this.#held) this.#held.push(write);
    else write();
  }
  /** Writes what was held and lets later output through. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const write of held) write();
  }
  /** Drops what was held. */
  drop(): void {
    this.#held = [];
  }
}

/** No agent here: start one in this process, join through it, and keep running. */
async function joinInForeground(
  ctx: CommandContext,
  join: Record<string, unknown>,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  // Loaded here, not at the top: _agent.ts reaches the registry, which lists this file.
  const { DEFAULT_LISTEN, runAgent } = await import("./_agent.ts");
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // The agent's "listening" line and logs wait until the join succeeds: a failed
  // join prints its one error line and nothing else.
  const held = new HeldOutput();
  const agent = runAgent({
    node: ctx.node,
    listen: (values.listen as string | undefined) ?? DEFAULT_LISTEN,
    advertise: values.advertise as string | undefined,
    signal: stop.signal,
    io: {
      stdout: (data) => {
        held.put(() => void ctx.io.stdout(data));
        return Promise.resolve();
      },
      stderr: (line) => held.put(() => ctx.io.stderr(line)),
    },
    logSink: (line) => held.put(() => ctx.io.stderr(line)),
  });
  let agentError: unknown;
  const ended = agent.then(() => "ended", (err) => {
    agentError = err;
    return "ended";
  });
  try {
    const deadline = Date.now() + AGENT_START_MS;
    while ((await callMesh(ctx.call, "ping", {})) === undefined) {
      const state = await Promise.race([ended, new Promise((r) => setTimeout(r, 100, "wait"))]);
      if (state === "ended") {
        throw agentError ?? new UsageError("The agent stopped before the join");
      }
      if (Date.now() > deadline) throw new UsageError("The agent's mesh service did not start");
    }
    await report(ctx, await callMesh(ctx.call, "join", join as never) ?? {});
  } catch (err) {
    held.drop();
    stop.abort();
    await ended;
    ctx.signal.removeEventListener("abort", onAbort);
    throw err;
  }
  held.release();
  await ctx.io.stdout("grid: staying in the foreground as this node's agent (Ctrl-C stops it)\n");
  await ended;
  ctx.signal.removeEventListener("abort", onAbort);
  if (agentError) throw agentError;
  return 0;
}
