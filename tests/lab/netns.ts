/**
 * A reusable network-namespace lab for end-to-end tests, the demo and the
 * benchmarks: N node namespaces, each with `eth0` on 192.168.77.0/24,
 * joined by veth pairs to a bridge that lives in its own hub namespace, so
 * no address or route is ever added to the host. A node may sit behind a NAT
 * router of its own instead (a namespace with iptables MASQUERADE between
 * the bridge and the node's private 10.N.0.0/24), as home and office
 * machines do: see {@link NatKind}. Names carry a random
 * suffix so parallel runs never collide; {@link NetnsLab.destroy} kills
 * every process in the lab's namespaces (wireguard-go included), removes
 * the namespaces and any stale wireguard-go sockets. Needs root.
 *
 * @module
 */

/**
 * The NAT router a node sits behind. Each router masquerades its node's
 * private network behind its own address on the bridge (192.168.77.(100+N)):
 *
 * - `cone`: `MASQUERADE`, which keeps the source port (endpoint-independent
 *   mapping), with a home router's firewall: new connections from outside
 *   are dropped before they leave any state (INPUT and FORWARD);
 * - `symmetric`: `MASQUERADE --random-fully`, a new random port per
 *   destination (endpoint-dependent mapping, "hard" NAT), same firewall;
 * - `open`: `MASQUERADE` with no firewall: an early packet from outside
 *   leaves conntrack state that makes the router remap the node's own flow
 *   later (the pathological case for punching).
 */
export type NatKind = "cone" | "symmetric" | "open";

/** One node of the lab. */
export interface LabNode {
  /** 1-based index. */
  readonly index: number;
  /** Network namespace name. */
  readonly ns: string;
  /** Its own address: on the bridge, e.g. `192.168.77.3` or `fd77::3`, or behind its NAT `10.N.0.2`. */
  readonly address: string;
  /** The prefix length of {@link address} on `eth0` (24, or 64 on an IPv6 underlay). */
  readonly prefixLength: number;
  /** A WireGuard interface name unique on this machine (wireguard-go sockets are shared). */
  readonly ifname: string;
  /** Its NAT router, if it sits behind one. */
  readonly nat?: { kind: NatKind; ns: string; publicAddress: string };
}

/** Output of a finished command. */
export interface LabOutput {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A long-lived process started in the lab. */
export interface LabProcess {
  /** Process id (the command itself: `ip netns exec` execs it). */
  readonly pid: number;
  /** Resolves when it exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Sends a signal; an exited process is ignored. */
  kill(signal?: Deno.Signal): void;
  /** Everything it wrote to stdout and stderr so far (also in its log file). */
  output(): string;
}

/** Options for {@link LabNet.spawn} and {@link LabNet.run}. */
export interface LabRunOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Kill a {@link LabNet.run} command after this many ms (default 60000). */
  timeoutMs?: number;
}

/** Options for {@link createLab}. */
export interface CreateLabOptions {
  /** Directory for process logs; default a fresh temp directory. */
  logDir?: string;
  /** Nodes (by 1-based index, at most 99 of them) behind a NAT router of their own. */
  nat?: Record<number, NatKind>;
  /**
   * The bridge's addressing: `"ipv4"` (default, 192.168.77.N/24) or
   * `"ipv6"`: only ULA `fd77::N/64` on each node's `eth0` (no IPv4 on the
   * bridge at all), added `nodad` so they are usable at once. No NAT nodes.
   */
  underlay?: "ipv4" | "ipv6";
}

/** A running capture of all bridge traffic. */
export interface LabCapture {
  /** The pcap file. */
  readonly path: string;
  /** Stops tcpdump and waits until the file is complete. */
  stop(): Promise<void>;
}

/** The lab and what can be done in it. */
export interface LabNet {
  /** Random suffix shared by every name in the lab. */
  readonly id: string;
  /** The hub namespace holding bridge `br0`. */
  readonly hub: string;
  /** The nodes. */
  readonly nodes: LabNode[];
  /** Where process logs go. */
  readonly logDir: string;
  /** Runs `cmd` inside the node's namespace to completion. */
  run(node: LabNode, cmd: string[], options?: LabRunOptions): Promise<LabOutput>;
  /** Starts a long-lived `cmd` inside the node's namespace; output goes to a log file. */
  spawn(node: LabNode, name: string, cmd: string[], options?: LabRunOptions): LabProcess;
  /** True when `from` can ping `to` (retried `tries` times, waiting `waitSec` (default 1) each). */
  ping(from: LabNode, to: string, tries?: number, waitSec?: number): Promise<boolean>;
  /** Starts tcpdump writing to `path` (on the bridge, or on every interface of `node`). */
  capture(path: string, node?: LabNode): Promise<LabCapture>;
  /** Tears everything down, logs too unless GRID_KEEP_LAB is set; safe to call twice. */
  destroy(): Promise<void>;
}

/** Why the lab cannot run here (not root, a tool missing), or undefined when it can. */
export async function labSkipReason(
  tools = ["ip", "wg", "wireguard-go", "ping"],
): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "needs root (network namespaces)";
  for (const tool of tools) {
    const args = tool === "ip" ? ["-V"] : tool === "ping" ? ["-V"] : ["--version"];
    const ok = await new Deno.Command(tool, { args, stdout: "null", stderr: "null" }).output()
      .then((o) => o.success, () => false);
    if (!ok) return `needs "${tool}" installed`;
  }
  return undefined;
}

/** Creates a lab of `count` nodes (1..200). Always pair with `destroy()` in `finally`. */
export async function createLab(count: number, options: CreateLabOptions = {}): Promise<LabNet> {
  if (!Number.isInteger(count) || count < 1 || count > 200) {
    throw new Error(`Bad node count ${count}`);
  }
  const id = crypto.getRandomValues(new Uint8Array(3)).toHex();
  const hub = `grid-${id}-hub`;
  const nat = options.nat ?? {};
  const v6 = options.underlay === "ipv6";
  if (v6 && Object.keys(nat).length > 0) throw new Error("No NAT nodes on an IPv6 underlay");
  for (const index of Object.keys(nat).map(Number)) {
    if (!(index >= 1 && index <= Math.min(count, 99))) throw new Error(`Bad NAT node ${index}`);
  }
  const nodes: LabNode[] = Array.from({ length: count }, (_, i) => {
    const index = i + 1;
    const kind = nat[index];
    return {
      index,
      ns: `grid-${id}-${index}`,
      address: kind
        ? `10.${index}.0.2`
        : v6
        ? `fd77::${index.toString(16)}`
        : `192.168.77.${index}`,
      prefixLength: v6 ? 64 : 24,
      ifname: `wg${id}n${index}`,
      ...(kind
        ? { nat: { kind, ns: `grid-${id}-r${index}`, publicAddress: `192.168.77.${100 + index}` } }
        : {}),
    };
  });
  const logDir = options.logDir ?? await Deno.makeTempDir({ prefix: `grid-lab-${id}-` });
  const lab = new Lab(id, hub, nodes, logDir, options.logDir === undefined);
  track(lab);
  // Every namespace shares the host's neighbour table: past ~30 nodes on one bridge its default
  // limits overflow ("neighbor table overflow", sendmsg: No buffer space available).
  if (count + Object.keys(nat).length > 30) await raiseNeighbourLimits();
  try {
    await sh(["ip", "netns", "add", hub]);
    await sh(["ip", "-n", hub, "link", "set", "lo", "up"]);
    await sh(["ip", "-n", hub, "link", "add", "br0", "type", "bridge"]);
    await sh(["ip", "-n", hub, "link", "set", "br0", "up"]);
    for (const node of nodes) {
      await sh(["ip", "netns", "add", node.ns]);
      await sh(["ip", "-n", node.ns, "link", "set", "lo", "up"]);
      if (node.nat) {
        await addNatRouter(hub, node, node.nat);
        continue;
      }
      await sh([
        "ip",
        "-n",
        hub,
        "link",
        "add",
        `v${node.index}`,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        node.ns,
      ]);
      await sh(["ip", "-n", hub, "link", "set", `v${node.index}`, "master", "br0", "up"]);
      await sh([
        "ip",
        "-n",
        node.ns,
        "address",
        "add",
        `${node.address}/${node.prefixLength}`,
        "dev",
        "eth0",
        ...(v6 ? ["nodad"] : []),
      ]);
      await sh(["ip", "-n", node.ns, "link", "set", "eth0", "up"]);
    }
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  return lab;
}

/**
 * Puts `node` behind a router namespace: `wan` on the bridge at the router's
 * public address, `lan` 10.N.0.1/24 towards the node's `eth0` (10.N.0.2,
 * default route via the router), forwarding on, masquerading out of `wan`.
 */
async function addNatRouter(
  hub: string,
  node: LabNode,
  nat: { kind: NatKind; ns: string; publicAddress: string },
): Promise<void> {
  const r = nat.ns;
  const lan = `10.${node.index}.0`;
  await sh(["ip", "netns", "add", r]);
  await sh(["ip", "-n", r, "link", "set", "lo", "up"]);
  await sh([
    "ip",
    "-n",
    hub,
    "link",
    "add",
    `r${node.index}`,
    "type",
    "veth",
    "peer",
    "name",
    "wan",
    "netns",
    r,
  ]);
  await sh(["ip", "-n", hub, "link", "set", `r${node.index}`, "master", "br0", "up"]);
  await sh(["ip", "-n", r, "address", "add", `${nat.publicAddress}/24`, "dev", "wan"]);
  await sh(["ip", "-n", r, "link", "set", "wan", "up"]);
  await sh([
    "ip",
    "-n",
    r,
    "link",
    "add",
    "lan",
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    node.ns,
  ]);
  await sh(["ip", "-n", r, "address", "add", `${lan}.1/24`, "dev", "lan"]);
  await sh(["ip", "-n", r, "link", "set", "lan", "up"]);
  await sh(["ip", "-n", node.ns, "address", "add", `${node.address}/24`, "dev", "eth0"]);
  await sh(["ip", "-n", node.ns, "link", "set", "eth0", "up"]);
  await sh(["ip", "-n", node.ns, "route", "add", "default", "via", `${lan}.1`]);
  const inR = (cmd: string[]) => sh(["ip", "netns", "exec", r, ...cmd]);
  await inR(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  await inR([
    "iptables",
    "-t",
    "nat",
    "-A",
    "POSTROUTING",
    "-o",
    "wan",
    "-j",
    "MASQUERADE",
    ...(nat.kind === "symmetric" ? ["--random-fully"] : []),
  ]);
  if (nat.kind !== "open") {
    for (const chain of ["INPUT", "FORWARD"]) {
      await inR([
        "iptables",
        "-A",
        chain,
        "-i",
        "wan",
        "-m",
        "conntrack",
        "--ctstate",
        "NEW",
        "-j",
        "DROP",
      ]);
    }
  }
}

const liveLabs = new Set<Lab>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** Ctrl-C or SIGTERM while labs are up: tear them down, then exit as the signal would. */
function onSignal(): void {
  Promise.allSettled([...liveLabs].map((lab) => lab.destroy())).finally(() => Deno.exit(130));
}

function track(lab: Lab): void {
  if (liveLabs.size === 0) {
    for (const signal of SIGNALS) {
      try {
        Deno.addSignalListener(signal, onSignal);
      } catch {
        // No signal listeners here (e.g. inside a worker): finally blocks still tear down.
      }
    }
  }
  liveLabs.add(lab);
}

function untrack(lab: Lab): void {
  if (!liveLabs.delete(lab) || liveLabs.size > 0) return;
  for (const signal of SIGNALS) {
    try {
      Deno.removeSignalListener(signal, onSignal);
    } catch {
      // Never added (see track).
    }
  }
}

/** Starts `cmd` inside `node`'s namespace, stdout and stderr piped. */
function spawnIn(node: LabNode, cmd: string[], options: LabRunOptions): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", node.ns, ...cmd],
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

class Lab implements LabNet {
  readonly id: string;
  readonly hub: string;
  readonly nodes: LabNode[];
  readonly logDir: string;
  #processes: { child: Deno.ChildProcess; done: Promise<unknown> }[] = [];
  #destroying?: Promise<void>;
  #ownsLogDir: boolean;

  constructor(id: string, hub: string, nodes: LabNode[], logDir: string, ownsLogDir: boolean) {
    this.#ownsLogDir = ownsLogDir;
    this.id = id;
    this.hub = hub;
    this.nodes = nodes;
    this.logDir = logDir;
  }

  async run(node: LabNode, cmd: string[], options: LabRunOptions = {}): Promise<LabOutput> {
    const child = spawnIn(node, cmd, options);
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited just now: nothing to kill.
      }
    }, options.timeoutMs ?? 60_000);
    try {
      const out = await child.output();
      const decoder = new TextDecoder();
      return {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  spawn(node: LabNode, name: string, cmd: string[], options: LabRunOptions = {}): LabProcess {
    const child = spawnIn(node, cmd, options);
    const logPath = `${this.logDir}/${name}.log`;
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        chunks.push(text);
        await Deno.writeTextFile(logPath, text, { append: true });
      }
    };
    const done = Promise.all([pump(child.stdout), pump(child.stderr), child.status]);
    this.#processes.push({ child, done });
    return {
      pid: child.pid,
      status: child.status,
      kill(signal: Deno.Signal = "SIGTERM") {
        try {
          child.kill(signal);
        } catch {
          // Already exited: killing it is done.
        }
      },
      output: () => chunks.join(""),
    };
  }

  async ping(from: LabNode, to: string, tries = 3, waitSec = 1): Promise<boolean> {
    for (let i = 0; i < tries; i++) {
      const out = await this.run(from, ["ping", "-n", "-q", "-c", "1", "-W", String(waitSec), to]);
      if (out.code === 0) return true;
    }
    return false;
  }

  async capture(path: string, node?: LabNode): Promise<LabCapture> {
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        node ? node.ns : this.hub,
        "tcpdump",
        "--immediate-mode",
        "-i",
        node ? "any" : "br0",
        "-U",
        "-s",
        "0",
        "-w",
        path,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`tcpdump did not start: ${seen.trim()}`);
      seen += value;
    }
    const drain = (async () => {
      while (!(await reader.read()).done) { /* keep stderr flowing */ }
    })();
    const done = Promise.all([drain, child.status]);
    this.#processes.push({ child, done });
    return {
      path,
      async stop() {
        try {
          child.kill("SIGINT");
        } catch {
          // Already exited.
        }
        await done;
      },
    };
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroyNow().finally(() => untrack(this));
    return this.#destroying;
  }

  async #destroyNow(): Promise<void> {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const pids = await this.#labPids();
      for (const pid of pids) {
        try {
          Deno.kill(pid, signal);
        } catch {
          // Gone already.
        }
      }
      if (pids.length > 0) await waitFor(async () => (await this.#labPids()).length === 0, 1500);
    }
    for (const { child } of this.#processes) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already, as it should have.
      }
    }
    await Promise.allSettled(this.#processes.map((p) => p.done));
    for (const ns of [...this.#namespaces(), this.hub]) {
      await new Deno.Command("ip", { args: ["netns", "del", ns], stdout: "null", stderr: "null" })
        .output();
    }
    if (this.#ownsLogDir && !Deno.env.get("GRID_KEEP_LAB")) {
      await Deno.remove(this.logDir, { recursive: true }).catch(() => {
        // Best effort: a log directory left behind is harmless.
      });
    }
    try {
      for await (const entry of Deno.readDir("/var/run/wireguard")) {
        if (entry.name.startsWith(`wg${this.id}n`)) {
          await Deno.remove(`/var/run/wireguard/${entry.name}`).catch(() => {
            // Best effort: the socket may have gone with its process already.
          });
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** Every node and router namespace. */
  #namespaces(): string[] {
    return this.nodes.flatMap((n) => (n.nat ? [n.ns, n.nat.ns] : [n.ns]));
  }

  async #labPids(): Promise<number[]> {
    const pids: number[] = [];
    for (const ns of [this.hub, ...this.#namespaces()]) {
      const out = await new Deno.Command("ip", {
        args: ["netns", "pids", ns],
        stdout: "piped",
        stderr: "null",
      })
        .output();
      for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
        if (/^[0-9]+$/.test(line.trim())) pids.push(Number(line.trim()));
      }
    }
    return pids.filter((pid) => pid !== Deno.pid);
  }
}

/** Raises the host's neighbour table limits (never lowers them), for labs of many nodes. */
async function raiseNeighbourLimits(): Promise<void> {
  const wanted: Record<string, number> = { gc_thresh1: 4096, gc_thresh2: 8192, gc_thresh3: 16384 };
  for (const family of ["ipv4", "ipv6"]) {
    for (const [name, value] of Object.entries(wanted)) {
      const path = `/proc/sys/net/${family}/neigh/default/${name}`;
      const now = Number(await Deno.readTextFile(path).catch(() => "0"));
      if (now < value) await Deno.writeTextFile(path, String(value)).catch(() => {});
    }
  }
}

/** Runs a setup command; throws with its stderr on failure. */
async function sh(cmd: string[]): Promise<void> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** Polls `check` every 50 ms until it is true or `ms` passed; returns its last answer. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  ms: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (true) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
