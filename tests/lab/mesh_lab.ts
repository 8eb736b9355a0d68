/**
 * A lab of real grid agents: one `grid serve` per network namespace (see
 * _netns.ts), each with its own GRID_HOME, run from source with the release
 * binary's permission flags (read from deno.json's `grid` task), plus the
 * helpers the mesh tests, the demo and the benchmark share: run a grid
 * command on a node, form a mesh, read a node's WireGuard state, ping every
 * pair. The namespaces cannot reach the npm registry, so the subprocesses use
 * this process's DENO_DIR, filled beforehand by `deno install`.
 *
 * @module
 */
import { releaseFlags } from "./agents.ts";

/** The release flags (from deno.json's `grid` task), re-exported for the tests that start agents here. */
export { releaseFlags };
import { parseWgDump, type WgDump } from "../../modules/wireguard/mod.ts";
import {
  createLab,
  type LabNet,
  type LabNode,
  type LabOutput,
  type LabProcess,
  type NatKind,
  waitFor,
} from "./netns.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The agent's WebSocket port inside every namespace. */
export const AGENT_PORT = 7340;
/** The WireGuard listen port inside every namespace. */
export const WG_PORT = 51820;

/** One grid node in the lab (its address fields follow {@link MeshLab.readdress}). */
export interface MeshNode extends Omit<LabNode, "address"> {
  /** Its address on the bridge now. */
  address: string;
  /** Its GRID_HOME. */
  readonly home: string;
  /** The URL peers dial it at. */
  url: string;
  /** `host:port` of its WireGuard endpoint. */
  endpoint: string;
  /** The running agent, if any. */
  agent?: LabProcess;
}

/** Options for {@link createMeshLab}. */
export interface MeshLabOptions {
  /** Extra environment for every grid process. */
  env?: Record<string, string>;
  /** Agent log level (default "info"). */
  logLevel?: string;
  /**
   * Agents run with `--advertise auto` and joins pass no `--endpoint`: each
   * node works out (and follows) its own address, as a laptop would.
   */
  auto?: boolean;
  /** Nodes (by 1-based index) behind a NAT router of their own (see {@link NatKind}). */
  nat?: Record<number, NatKind>;
  /**
   * `"ipv6"`: the bridge carries only IPv6 (`fd77::N`), URLs are
   * `ws://[fd77::N]:7340`, endpoints `[fd77::N]:51820` (see the `underlay` option of {@link createLab}).
   */
  underlay?: "ipv4" | "ipv6";
}

/** Flags for `grid create-wireguard-net` / `join-wireguard-net`. */
export interface NetFlags {
  /** Net CIDR (create only). */
  cidr?: string;
  /** Open net (create only). */
  open?: boolean;
  /** Per-pair pre-shared keys (create only). */
  psk?: boolean;
}

/** Grid agents in namespaces, and what tests do with them. */
export class MeshLab {
  /** The namespaces. */
  readonly lab: LabNet;
  /** The nodes, 1-based `index`. */
  readonly nodes: MeshNode[];
  readonly #flags: string[];
  readonly #env: Record<string, string>;
  readonly #logLevel: string;
  readonly #auto: boolean;
  readonly #v6: boolean;
  /**
   * An empty working directory: the CLI turns an argument naming an existing
   * file in its working directory into an absolute path, so a net called
   * like a file in the repository would change its name.
   */
  readonly #cwd: string;
  #starts = 0;

  private constructor(lab: LabNet, nodes: MeshNode[], flags: string[], options: MeshLabOptions) {
    this.lab = lab;
    this.nodes = nodes;
    this.#flags = flags;
    this.#env = { NO_COLOR: "1", ...options.env };
    this.#logLevel = options.logLevel ?? "info";
    this.#auto = options.auto === true;
    this.#v6 = options.underlay === "ipv6";
    this.#cwd = `${lab.logDir}/cwd`;
  }

  /** Builds `count` namespaces with a fresh GRID_HOME each (no agent started yet). */
  static async create(count: number, options: MeshLabOptions = {}): Promise<MeshLab> {
    const flags = await releaseFlags();
    const lab = await createLab(count, { nat: options.nat, underlay: options.underlay });
    const nodes = lab.nodes.map((n): MeshNode => ({
      ...n,
      home: `${lab.logDir}/home${n.index}`,
      url: `ws://${hostPart(n.address)}:${AGENT_PORT}`,
      endpoint: `${hostPart(n.address)}:${WG_PORT}`,
    }));
    for (const node of nodes) await Deno.mkdir(node.home, { mode: 0o700 });
    await Deno.mkdir(`${lab.logDir}/cwd`);
    return new MeshLab(lab, nodes, flags, options);
  }

  /**
   * Runs `grid ARGS` on `node` and waits for it; `prefix` runs it through
   * another program first (e.g. `setpriv --bounding-set=-net_admin`).
   */
  grid(
    node: MeshNode,
    args: string[],
    timeoutMs = 60_000,
    prefix: string[] = [],
  ): Promise<LabOutput> {
    return this.lab.run(
      node,
      asHost(node, [...prefix, Deno.execPath(), "run", ...this.#flags, `${ROOT}/main.ts`, ...args]),
      {
        env: { ...this.#env, GRID_HOME: node.home },
        cwd: this.#cwd,
        timeoutMs,
      },
    );
  }

  /** Runs a Deno script of this repository (path from its root) on `node`, with all permissions. */
  script(node: MeshNode, path: string, args: string[], timeoutMs = 120_000): Promise<LabOutput> {
    return this.lab.run(node, [Deno.execPath(), "run", "-A", `${ROOT}/${path}`, ...args], {
      env: { ...this.#env, GRID_HOME: node.home },
      cwd: this.#cwd,
      timeoutMs,
    });
  }

  /** The resident memory of the node's agent, in MiB (VmRSS). */
  async agentRssMb(node: MeshNode): Promise<number> {
    if (!node.agent) throw new Error(`node ${node.index} has no agent`);
    const status = await Deno.readTextFile(`/proc/${node.agent.pid}/status`);
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb / 1024;
  }

  /**
   * Runs `grid ARGS` and throws with its stderr unless it exits 0 (or, for
   * `status`, 1: its whole report, saying something is unhealthy); returns stdout.
   */
  async gridOk(node: MeshNode, args: string[], timeoutMs?: number): Promise<string> {
    const out = await this.grid(node, args, timeoutMs);
    if (out.code !== 0 && !(args[0] === "status" && out.code === 1 && out.stdout !== "")) {
      throw new Error(
        `grid ${args[0]} on node ${node.index} exited ${out.code}: ${out.stderr.trim()}`,
      );
    }
    return out.stdout;
  }

  /** Starts `grid serve [extra...]` on `node` and waits until it listens. */
  async startAgent(node: MeshNode, timeoutMs = 60_000, extra: string[] = []): Promise<void> {
    const agent = this.lab.spawn(
      node,
      `agent${node.index}-${++this.#starts}`,
      asHost(node, [
        Deno.execPath(),
        "run",
        ...this.#flags,
        `${ROOT}/main.ts`,
        "serve",
        // No --listen: the default ([::]:7340, IPv6 and IPv4 on one socket), as installed.
        "--advertise",
        this.#auto ? "auto" : node.url,
        "--log-level",
        this.#logLevel,
        ...extra,
      ]),
      { env: { ...this.#env, GRID_HOME: node.home }, cwd: this.#cwd },
    );
    node.agent = agent;
    let exited = false;
    agent.status.then(() => exited = true);
    const up = await waitFor(
      () => exited || agent.output().includes("grid: listening on"),
      timeoutMs,
    );
    if (!up || exited) {
      throw new Error(`agent on node ${node.index} did not start: ${agent.output().slice(-2000)}`);
    }
  }

  /**
   * Starts `grid ARGS` on `node` in the background as its agent (e.g. a join
   * that stays in the foreground) and returns without waiting.
   */
  spawnGrid(node: MeshNode, args: string[]): LabProcess {
    const process = this.lab.spawn(
      node,
      `grid${node.index}-${++this.#starts}`,
      asHost(node, [Deno.execPath(), "run", ...this.#flags, `${ROOT}/main.ts`, ...args]),
      { env: { ...this.#env, GRID_HOME: node.home }, cwd: this.#cwd },
    );
    node.agent = process;
    return process;
  }

  /** Starts every node's agent, a few at a time (2 cores). */
  async startAgents(nodes = this.nodes, parallel = 4): Promise<void> {
    await pool(nodes, parallel, (n) => this.startAgent(n));
  }

  /** Kills the node's agent with `signal` and waits for it to exit. */
  async stopAgent(node: MeshNode, signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const agent = node.agent;
    if (!agent) return;
    agent.kill(signal);
    await agent.status;
    node.agent = undefined;
  }

  /** `grid create-wireguard-net NAME ...` on `node`. */
  createNet(node: MeshNode, name: string, flags: NetFlags = {}): Promise<string> {
    return this.gridOk(node, [
      "create-wireguard-net",
      name,
      ...(flags.cidr ? ["--cidr", flags.cidr] : []),
      ...(flags.open ? ["--open"] : []),
      ...(flags.psk ? ["--psk"] : []),
      ...this.wgFlags(node),
    ]);
  }

  /** `grid invite NAME ...` on `node`: the token. */
  async invite(node: MeshNode, name: string, extra: string[] = []): Promise<string> {
    const out = (await this.gridOk(node, ["invite", name, ...extra])).trim().split("\n");
    return out[out.length - 1].trim();
  }

  /** `grid join-wireguard-net NAME [INVITE] ...` on `node` (exit code and output, not thrown). */
  join(node: MeshNode, name: string, invite?: string): Promise<LabOutput> {
    return this.grid(node, [
      "join-wireguard-net",
      name,
      ...(invite === undefined ? [] : [invite]),
      ...this.wgFlags(node),
    ]);
  }

  /** The `--interface/--listen-port/--endpoint` flags for `node` (no endpoint in `auto` labs). */
  wgFlags(node: MeshNode): string[] {
    return [
      "--interface",
      node.ifname,
      "--listen-port",
      String(WG_PORT),
      ...(this.#auto ? [] : ["--endpoint", node.endpoint]),
    ];
  }

  /**
   * Provisions `node` to join `net` on boot, as cloud-init would: the invite
   * and the node's WireGuard settings in `GRID_HOME/nets.d/NET.invite`, 0600.
   */
  async provision(node: MeshNode, net: string, token: string, mode = 0o600): Promise<string> {
    const dir = `${node.home}/nets.d`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const path = `${dir}/${net}.invite`;
    const wg = this.wgFlags(node);
    const text = [
      "# written by the fleet's provisioning, as cloud-init would",
      `invite = ${token}`,
      `interface = ${wg[1]}`,
      `listen-port = ${wg[3]}`,
      ...(wg[5] ? [`endpoint = ${wg[5]}`] : []),
      "",
    ].join("\n");
    await Deno.writeTextFile(path, text, { mode });
    await Deno.chmod(path, mode);
    return path;
  }

  /** Moves `node` to another address on the bridge with its agent running (`ip addr del/add`). */
  async readdress(node: MeshNode, address: string): Promise<void> {
    // Old one out first: removing a primary address also removes the secondaries of its subnet.
    const len = node.prefixLength;
    await this.#sh(node, ["ip", "addr", "del", `${node.address}/${len}`, "dev", "eth0"]);
    await this.#sh(node, [
      "ip",
      "addr",
      "add",
      `${address}/${len}`,
      "dev",
      "eth0",
      ...(this.#v6 ? ["nodad"] : []),
    ]);
    node.address = address;
    node.url = `ws://${hostPart(address)}:${AGENT_PORT}`;
    node.endpoint = `${hostPart(address)}:${WG_PORT}`;
  }

  /** Drops every packet between `a` and `b` (both ways, in `a`'s namespace), or lets them pass again. */
  async blackhole(a: MeshNode, b: MeshNode, on: boolean): Promise<void> {
    const op = on ? "-I" : "-D";
    await this.#sh(a, [this.#tables, op, "INPUT", "-s", b.address, "-j", "DROP"]);
    await this.#sh(a, [this.#tables, op, "OUTPUT", "-d", b.address, "-j", "DROP"]);
  }

  /** Drops every packet to and from `node` (a partition of one), or lets them pass again. */
  async isolate(node: MeshNode, on: boolean): Promise<void> {
    const op = on ? "-I" : "-D";
    await this.#sh(node, [this.#tables, op, "INPUT", "-i", "eth0", "-j", "DROP"]);
    await this.#sh(node, [this.#tables, op, "OUTPUT", "-o", "eth0", "-j", "DROP"]);
  }

  /** Drops incoming packets on `node` at random with probability `p` (0: stop). */
  async loss(node: MeshNode, p: number): Promise<void> {
    const rule = ["INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random"];
    await this.lab.run(node, [
      this.#tables,
      "-D",
      ...rule,
      "--probability",
      String(this.#lossP),
      "-j",
      "DROP",
    ]);
    if (p > 0) {
      await this.#sh(node, [this.#tables, "-I", ...rule, "--probability", String(p), "-j", "DROP"]);
    }
    this.#lossP = p;
  }
  #lossP = 0;

  /** Runs `cmd` in the namespace of `node`'s NAT router; throws with its stderr on failure. */
  async router(node: MeshNode, cmd: string[]): Promise<void> {
    if (!node.nat) throw new Error(`node ${node.index} has no NAT router`);
    const out = await this.lab.run({ ...node, ns: node.nat.ns }, cmd);
    if (out.code !== 0) {
      throw new Error(`${cmd.join(" ")} on router ${node.index}: ${out.stderr.trim()}`);
    }
  }

  /** The packet filter of the underlay's family. */
  get #tables(): string {
    return this.#v6 ? "ip6tables" : "iptables";
  }

  async #sh(node: MeshNode, cmd: string[]): Promise<void> {
    const out = await this.lab.run(node, cmd);
    if (out.code !== 0) {
      throw new Error(`${cmd.join(" ")} on node ${node.index}: ${out.stderr.trim()}`);
    }
  }

  /**
   * Creates net `name` on the first node and joins the others, node k
   * through the invite of node ⌊(k-1)/2⌋ (a tree: several inviters). Agents
   * must be running. Returns when every join returned.
   */
  async formMesh(name: string, flags: NetFlags = {}, nodes = this.nodes): Promise<void> {
    await this.createNet(nodes[0], name, flags);
    for (let i = 1; i < nodes.length; i++) {
      const inviter = nodes[Math.floor((i - 1) / 2)];
      const token = await this.invite(inviter, name);
      const out = await this.join(nodes[i], name, token);
      if (out.code !== 0) {
        throw new Error(
          `join of node ${
            nodes[i].index
          } via ${inviter.index} exited ${out.code}: ${out.stderr.trim()}`,
        );
      }
    }
  }

  /** The node's WireGuard state from `wg show IF dump` (undefined when it has no interface). */
  async wgDump(node: MeshNode): Promise<WgDump | undefined> {
    const out = await this.lab.run(node, ["wg", "show", node.ifname, "dump"]);
    return out.code === 0 ? parseWgDump(out.stdout) : undefined;
  }

  /** The node's tunnel address from `ip addr` (undefined when it has none). */
  async tunnelAddress(node: MeshNode): Promise<string | undefined> {
    const out = await this.lab.run(node, ["ip", "-j", "address", "show", "dev", node.ifname]);
    if (out.code !== 0) return undefined;
    const info = JSON.parse(out.stdout)[0]?.addr_info ?? [];
    return info.find((a: { family: string }) => a.family === "inet")?.local;
  }

  /** The node's WireGuard public key (undefined when it has no interface). */
  async publicKey(node: MeshNode): Promise<string | undefined> {
    return (await this.wgDump(node))?.device.publicKey;
  }

  /**
   * Pairs `[from, to]` among `nodes` where `from` cannot ping `to`'s address
   * in `addresses` (tunnel addresses of one family: the IPv4 overlay from
   * {@link tunnelAddress}, or an IPv6 overlay's once nets have one).
   */
  async unreachablePairs(
    nodes: MeshNode[],
    addresses: Map<MeshNode, string | undefined>,
    waitSec = 1,
    parallel = 8,
  ): Promise<[MeshNode, MeshNode][]> {
    const pairs = nodes.flatMap((a) =>
      nodes.filter((b) => b !== a).map((b) => [a, b] as [MeshNode, MeshNode])
    );
    const failed: [MeshNode, MeshNode][] = [];
    await pool(pairs, parallel, async ([a, b]) => {
      const to = addresses.get(b);
      if (to === undefined || !(await this.lab.ping(a, to, 1, waitSec))) failed.push([a, b]);
    });
    return failed;
  }

  /** Pairs `[from, to]` among `nodes` that cannot ping each other's (IPv4) tunnel address. */
  async failingPairs(
    nodes = this.nodes,
    waitSec = 1,
    parallel = 8,
  ): Promise<[MeshNode, MeshNode][]> {
    const addresses = new Map<MeshNode, string | undefined>();
    for (const node of nodes) addresses.set(node, await this.tunnelAddress(node));
    return await this.unreachablePairs(nodes, addresses, waitSec, parallel);
  }

  /** Waits until every pair among `nodes` pings; returns the ms it took, or undefined on timeout. */
  async waitForMesh(nodes = this.nodes, timeoutMs = 60_000): Promise<number | undefined> {
    const start = performance.now();
    const whole = await waitFor(
      async () => (await this.failingPairs(nodes, 0.5)).length === 0,
      timeoutMs,
      100,
    );
    return whole ? performance.now() - start : undefined;
  }

  /**
   * Points `node`'s resolver at its agent's names (127.0.77.53, docs/names.md):
   * `ip netns exec` mounts the files of `/etc/netns/NS/` over `/etc/`. With
   * `hosts`, the node also gets a hosts file of its own holding that text.
   * {@link destroy} removes them.
   */
  async useGridDns(node: MeshNode, hosts?: string): Promise<void> {
    const dir = `/etc/netns/${node.ns}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 127.0.77.53\noptions timeout:1\n");
    // Files, then DNS: no mDNS module or other resolver in the way.
    await Deno.writeTextFile(`${dir}/nsswitch.conf`, "hosts: files dns\n");
    if (hosts !== undefined) await Deno.writeTextFile(`${dir}/hosts`, hosts);
  }

  /** Tears down every agent, interface and namespace (and their resolver files). */
  async destroy(): Promise<void> {
    await this.lab.destroy();
    for (const node of this.nodes) {
      try {
        await Deno.remove(`/etc/netns/${node.ns}`, { recursive: true });
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }
}

/** `host` as the host part of a URL or endpoint: an IPv6 literal in brackets. */
export function hostPart(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * `argv` run with host name `nodeN` in a UTS namespace of its own, so each
 * node has its own name as on real machines (grid names members after their
 * host). Every step execs the next, so the pid is the command's own.
 */
function asHost(node: LabNode, argv: string[]): string[] {
  return [
    "unshare",
    "--uts",
    "sh",
    "-c",
    'hostname "$0" && exec "$@"',
    `node${node.index}`,
    ...argv,
  ];
}

/** Runs `fn` over `items`, at most `parallel` at a time. */
export async function pool<T>(
  items: T[],
  parallel: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}
