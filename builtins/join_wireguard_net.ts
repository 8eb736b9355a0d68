/**
 * `grid join-wireguard-net NAME [INVITE]`: the joiner's promise and the join.
 * With an agent running, the agent joins and this returns once the local
 * interface is up; with none, this process joins and stays in the
 * foreground as the agent. With neither invite nor URL it asks the local
 * network for open net NAME (builtins/_lan_join.ts).
 *
 * @module
 */
import { UsageError } from "../kernel/base/mod.ts";
import type { LanTarget } from "./_lan_join.ts";
import type { JoinRequest } from "../modules/mesh/mod.ts";
import type { Command, CommandContext } from "./_command.ts";
import {
  DEFAULT_LISTEN,
  flagText,
  type ParsedFlags,
  parseFlags,
  parsePort,
  parseRelayFlags,
  RELAY_FLAGS,
  RELAY_USAGE,
} from "./_flags.ts";

const USAGE =
  `grid join-wireguard-net [NAME] [INVITE | - | @FILE | --via URL | --net ID] [--interface IF] [--listen-port N] [--endpoint HOST:PORT] [--name NODE-NAME] [--listen HOST:PORT] [--advertise URL|auto] ${RELAY_USAGE}`;

/** The exit code of a usage error (agent/exit_codes.ts), for a listing that asks for `--net`. */
const USAGE_EXIT = 2;

/** How long the foreground join waits for its own agent's mesh service. */
const AGENT_START_MS = 15_000;

/** What a join prints: a fresh join, or a node that was a member already. */
interface Joined {
  name: string;
  net?: string;
  address: string;
  address6?: string;
  interface: string;
  admittedBy?: string;
  founder?: string;
  promise?: string;
  already?: boolean;
  warnings?: string[];
}

/** The join command. */
export const command: Command = {
  name: "join-wireguard-net",
  // The mesh's JOIN_PROMISE_TEXT, spelled out so that this description loads without the mesh
  // (builtins/registry_test.ts checks they are the same).
  promise:
    "I promise to use the public keys, endpoints and tunnel addresses I receive from this WireGuard net only to connect to its members, and not to abuse the net or its members. I will generate my own private key on this machine and never send it to anyone. In return I ask the net to admit me and give me a tunnel address.",
  usage: USAGE,
  summary: "join a WireGuard net (with an invite, or on the promise alone for an open net)",
  group: "mesh",
  inputArgs: true,
  options: [
    ["NAME", "the net (may be left out: taken from the invite)"],
    [
      "INVITE",
      "the invite token, - to read it from standard input, or @FILE to read it from a file",
    ],
    ["--via ws://HOST:PORT", "join an open net through this member"],
    [
      "--net ID",
      "of the open nets called NAME found on the local network, join this one",
    ],
    [
      "--interface IF",
      "the WireGuard interface to make (default grid-NAME); never an existing link",
    ],
    ["--listen-port N", "WireGuard's UDP port (default the first free one from 51820)"],
    [
      "--endpoint HOST:PORT",
      "where others reach this node's WireGuard (default from the agent's address)",
    ],
    ["--name NODE-NAME", "this node's name in the net (default the host name)"],
    ["--listen HOST:PORT", "(no agent running) the agent this command becomes listens here"],
    ["--advertise URL|auto", "(no agent running) the URL peers dial it at"],
    [
      "--no-relay, --relay-circuits N, --relay-mbps N",
      "(no agent running) what it relays for others",
    ],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(
      args,
      {
        via: { type: "string" },
        net: { type: "string" },
        interface: { type: "string" },
        "listen-port": { type: "string" },
        endpoint: { type: "string" },
        name: { type: "string" },
        listen: { type: "string" },
        advertise: { type: "string" },
        ...RELAY_FLAGS,
      },
      USAGE,
      { min: 1, max: 2 },
    );
    const [
      { MeshClient },
      { checkInviteFor, isLive, netDir, parseInviteToken },
      { openOfflineMesh },
    ] = await Promise.all([
      import("../modules/mesh/mod.ts"),
      import("../modules/membership/mod.ts"),
      import("./_mesh_command.ts"),
    ]);
    // NAME INVITE, or INVITE alone (the net's name is in it), or NAME alone (an open net).
    const looksLikeInvite = (text: string) => /^grid\d+\./.test(text);
    let [name, second] = flags.positionals;
    if (second === undefined && looksLikeInvite(name)) {
      second = name;
      name = (await parseInviteToken(second)).invite.netName;
    }
    let via = flagText(flags, "via");
    let invite: string | undefined = second;
    if (second && /^wss?:\/\//.test(second)) {
      if (via) throw new UsageError("Give a member's URL once: as INVITE or with --via");
      via = second;
      invite = undefined;
    }
    // Checked before anything starts or binds: a bad invite is one line and nothing else.
    if (invite !== undefined) await checkInviteFor(invite, name);
    parseRelayFlags(flags); // (used when this command becomes the agent)
    const netId = flagText(flags, "net");
    if (netId !== undefined && (invite !== undefined || via !== undefined)) {
      throw new UsageError(
        "--net picks a net found on the local network: leave it out with an invite or a URL",
      );
    }
    // No invite and no URL: ask the local network for open net NAME, unless this node holds a
    // net of that name already and no --net was given (the join then says it is a member, or
    // why it cannot rejoin).
    let lan: LanTarget | undefined;
    const asks = invite === undefined && via === undefined && (netId !== undefined ||
      !(await Deno.stat(`${netDir(ctx.node.home, name)}/settings.json`).then(
        () => true,
        () => false, // not there: not held
      )));
    if (asks) {
      const [{ findOnLan }, { loadIdentity }] = await Promise.all([
        import("./_lan_join.ts"),
        import("../kernel/mod.ts"),
      ]);
      const self = await loadIdentity(`${ctx.node.home.state}/identity`);
      const found = await findOnLan(ctx, name, { netId, selfId: self.id });
      if (found === "listed") return USAGE_EXIT; // several nets: the user picks one with --net
      lan = found;
      via = lan?.via;
    }
    const join: JoinRequest = {
      name,
      invite,
      via,
      net: lan?.net.net,
      interface: flagText(flags, "interface"),
      listenPort: parsePort(flagText(flags, "listen-port")),
      endpoint: flagText(flags, "endpoint"),
      nodeName: flagText(flags, "name"),
    };
    const agent = new MeshClient(ctx.call);
    if (await agent.ping()) {
      await report(ctx, await agent.join(join), lan);
      return 0;
    }
    // Already a member and no agent: say so, rather than becoming the agent.
    const offline = await openOfflineMesh(ctx);
    const state = offline.nets.get(name);
    if (state && isLive(state.set, offline.selfId)) {
      await report(ctx, {
        already: true,
        name,
        address: state.set.members.get(offline.selfId)?.address ?? "",
        address6: state.set.members.get(offline.selfId)?.address6,
        interface: state.settings.interface,
      });
      return 0;
    }
    return await joinInForeground(ctx, join, flags, lan);
  },
};

/** `10.77.0.2 (fd3a:…)`: the tunnel addresses, IPv6 when the agent said it. */
function addresses(result: Joined): string {
  return result.address6 ? `${result.address} (${result.address6})` : result.address;
}

async function report(ctx: CommandContext, result: Joined, lan?: LanTarget): Promise<void> {
  for (const warning of result.warnings ?? []) {
    ctx.io.stderr(`grid: warning: ${warning}`);
  }
  if (result.already === true) {
    await ctx.io.stdout(
      `Already a member of net "${result.name}" as ${addresses(result)} on ${result.interface}\n`,
    );
    return;
  }
  await ctx.io.stdout(
    `Joined net "${result.name}" as ${addresses(result)} on ${result.interface}` +
      ` (admitted by ${result.admittedBy})\n` +
      (result.promise !== undefined ? `The net's promise to this node: ${result.promise}\n` : "") +
      // The founder as the records taken in say, not as the announcement claimed: anyone on the
      // LAN can announce a net of theirs under a trusted founder's id.
      (lan
        ? `Net id ${result.net}, founder ${
          result.founder ?? "unknown (an older agent)"
        } (found on the local network${
          result.founder !== undefined && result.founder !== lan.net.founder
            ? `; it was announced with founder ${lan.net.founder}, which is not this net's`
            : ""
        })\n`
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
  join: JoinRequest,
  flags: ParsedFlags,
  lan?: LanTarget,
): Promise<number> {
  const { MeshClient } = await import("../modules/mesh/mod.ts");
  const { DEFAULT_DNS_ADDRESS } = await import("../modules/names/mod.ts");
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // The agent's "listening" line and logs wait until the join succeeds: a failed
  // join prints its one error line and nothing else.
  const held = new HeldOutput();
  const agent = ctx.runAgent({
    listen: flagText(flags, "listen") ?? DEFAULT_LISTEN,
    advertise: flagText(flags, "advertise"),
    relay: parseRelayFlags(flags),
    dns: DEFAULT_DNS_ADDRESS, // members' names, as under grid serve (docs/names.md)
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
  const mesh = new MeshClient(ctx.call);
  try {
    const deadline = Date.now() + AGENT_START_MS;
    while (!(await mesh.ping())) {
      const state = await Promise.race([ended, new Promise((r) => setTimeout(r, 100, "wait"))]);
      if (state === "ended") {
        throw agentError ?? new UsageError("The agent stopped before the join");
      }
      if (Date.now() > deadline) throw new UsageError("The agent's mesh service did not start");
    }
    await report(ctx, await mesh.join(join), lan);
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
