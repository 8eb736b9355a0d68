/**
 * The thin effectful layer: reads an interface's state with `wg show dump`
 * and `ip -j addr`, plans the difference (wg_plan.ts, pure) and runs only
 * that with `ip` and `wg set`. It creates the interface with the kernel's
 * WireGuard, or starts `wireguard-go -f IF` as a detached background process
 * when the kernel has none. Working tunnels are never torn down to apply a
 * change, and removing an interface that is already gone succeeds.
 *
 * @module
 */
import { runTool, runToolOrThrow, toolArgv } from "./_run.ts";
import { keyFingerprint, parseWgDump, type WgDump } from "./wg_dump.ts";
import { WireGuardError } from "./wg_error.ts";
import { publicKeyOf } from "./wg_keys.ts";
import { planInterface, type WgAction, type WgCurrentState } from "./wg_plan.ts";
import {
  describe,
  ipArgs,
  kickPeerArgs,
  parseIpAddr,
  restartPeerArgs,
  wgSetArgs,
} from "./_wg_commands.ts";
import type { WgInterfaceSpec, WgPeerSpec } from "./wg_state.ts";
import { isEndpoint } from "./wg_validate.ts";
import { isInterfaceName, validateSpec } from "./wg_validate.ts";

/** How the interface is implemented. */
export type WgBackend = "kernel" | "userspace";

/** Options shared by every call of the WireGuard layer. */
export interface WgOptions {
  /** Run every command inside this network namespace (tests, the demo). */
  netns?: string;
}

/** Options for {@link applyInterface}. */
export interface ApplyOptions extends WgOptions {
  /** Which implementation creates a missing interface; default `auto` (kernel, else wireguard-go). */
  backend?: "auto" | WgBackend;
  /** How long to wait for a new wireguard-go interface to come up; default 5000 ms. */
  readyTimeoutMs?: number;
}

/** What {@link applyInterface} did. */
export interface ApplyResult {
  /** The actions run, in order; empty when the interface already matched. */
  actions: WgAction[];
  /** The backend that created the interface, when it had to be created. */
  created?: WgBackend;
  /** What could not be done but does not stop the interface working (IPv6 off on this host). */
  warnings?: string[];
}

const wireguardGoChildren = new Map<string, Deno.ChildProcess>();
const locks = new Map<string, Promise<unknown>>();

/**
 * Makes interface `spec.name` match `spec`, running only what differs.
 *
 * @example
 * ```ts
 * import { applyInterface } from "./wg_apply.ts";
 * const spec = { name: "grid0", privateKeyFile: "/root/.grid/state/wg.key", listenPort: 51820, addresses: ["10.77.0.1/16"], peers: [] };
 * await applyInterface(spec); // { actions: [...], created: "userspace" }
 * await applyInterface(spec); // { actions: [] }
 * ```
 */
export function applyInterface(
  spec: WgInterfaceSpec,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  validateSpec(spec);
  return serialized(`${options.netns ?? ""}/${spec.name}`, () => applyNow(spec, options));
}

async function applyNow(spec: WgInterfaceSpec, options: ApplyOptions): Promise<ApplyResult> {
  const current = await readSettledState(spec.name, options);
  const publicKey = await publicKeyOf(spec.privateKeyFile);
  const presharedKeyHashes: Record<string, string> = {};
  for (const peer of spec.peers) {
    const file = peer.presharedKeyFile;
    if (file !== undefined && !(file in presharedKeyHashes)) {
      presharedKeyHashes[file] = await presharedKeyHash(file, spec.name);
    }
  }
  const actions = planInterface(spec, current, { publicKey, presharedKeyHashes });
  let created: WgBackend | undefined;
  if (actions[0]?.kind === "create-link") created = await createLink(spec.name, options);
  const wgArgs = actions.flatMap(wgSetArgs);
  if (wgArgs.length > 0) {
    const batch = await runTool("wg", ["set", spec.name, ...wgArgs], options);
    if (batch.code !== 0) {
      // Re-run one action at a time so the error names the one that failed
      // (wg set is idempotent, so repeating the ones that worked is harmless);
      // if every one succeeds alone, the batch's failure was transient.
      for (const action of actions) {
        const args = wgSetArgs(action);
        if (args.length > 0) {
          await runToolOrThrow(
            describe(action, spec.name),
            "wg",
            ["set", spec.name, ...args],
            options,
          );
        }
      }
    }
  }
  const warnings: string[] = [];
  for (const action of actions) {
    const args = ipArgs(action, spec.name);
    if (args.length === 0) continue;
    const result = await runTool("ip", args, options);
    const harmless = action.kind === "add-address" && /File exists/i.test(result.stderr) ||
      action.kind === "remove-address" && /Cannot assign/i.test(result.stderr);
    if (result.code === 0 || harmless) continue;
    // A host with IPv6 turned off (disable_ipv6=1) refuses v6 addresses: the IPv4 overlay still works.
    if (action.kind === "add-address" && action.address.includes(":")) {
      warnings.push(`Cannot add IPv6 address "${action.address}" (${result.stderr.trim()})`);
      continue;
    }
    throw new WireGuardError(`Cannot ${describe(action, spec.name)}: ${result.stderr}`);
  }
  return {
    actions,
    ...(created === undefined ? {} : { created }),
    ...(warnings.length === 0 ? {} : { warnings }),
  };
}

/** The interface's current state, or undefined when it does not exist. */
export async function readInterfaceState(
  name: string,
  options: WgOptions = {},
): Promise<WgCurrentState | undefined> {
  checkName(name);
  const [show, addr] = await Promise.all([
    runTool("wg", ["show", name, "dump"], options),
    runTool("ip", ["-j", "address", "show", "dev", name], options),
  ]);
  const linkMissing = addr.code !== 0 && /does not exist|Cannot find device/i.test(addr.stderr);
  if (addr.code !== 0 && !linkMissing) {
    throw new WireGuardError(`Cannot read the addresses of "${name}": ${addr.stderr}`);
  }
  if (show.code !== 0) {
    if (linkMissing) return undefined;
    throw new WireGuardError(
      `Cannot read "${name}": it exists but is not a WireGuard interface (${show.stderr})`,
    );
  }
  if (linkMissing) {
    throw new WireGuardError(
      `Cannot use "${name}": a wireguard-go interface of that name runs in another network namespace`,
    );
  }
  return { dump: parseWgDump(show.stdout), link: parseIpAddr(addr.stdout, name) };
}

/**
 * {@link readInterfaceState}, allowing a moment for a link whose wireguard-go
 * just died to vanish (the kernel deletes the TUN device a little after the
 * process exits; until then `ip` sees a link `wg` cannot talk to).
 */
async function readSettledState(
  name: string,
  options: WgOptions,
): Promise<WgCurrentState | undefined> {
  for (let attempt = 1;; attempt++) {
    try {
      return await readInterfaceState(name, options);
    } catch (err) {
      if (
        !(err instanceof WireGuardError && err.message.includes("not a WireGuard interface")) ||
        attempt >= 20
      ) {
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The parsed `wg show IF dump` of an existing interface (no private key, no PSK). */
export async function readStatus(name: string, options: WgOptions = {}): Promise<WgDump> {
  checkName(name);
  const out = await runToolOrThrow(
    `read the status of "${name}"`,
    "wg",
    ["show", name, "dump"],
    options,
  );
  return parseWgDump(out);
}

/**
 * Sets every peer's endpoint again to the one it has: WireGuard forgets the
 * local source address it stuck to for each peer, so after this host's own
 * address changed it sends from the new one instead of failing on the old.
 */
export async function resetEndpoints(name: string, options: WgOptions = {}): Promise<void> {
  checkName(name);
  const dump = await readStatus(name, options);
  const args = dump.peers.filter((p) => p.endpoint !== undefined)
    .flatMap((p) => ["peer", p.publicKey, "endpoint", p.endpoint!]);
  if (args.length === 0) return;
  await serialized(
    `${options.netns ?? ""}/${name}`,
    () => runToolOrThrow(`reset the endpoints of "${name}"`, "wg", ["set", name, ...args], options),
  );
}

/**
 * Removes peer `peer.publicKey` and adds it back as `peer` in one `wg set`,
 * so it sends a handshake initiation at once (a punch, a new relay path).
 * Its session, if any, is lost: only for peers without a working one.
 */
export async function restartPeer(
  name: string,
  peer: WgPeerSpec,
  options: WgOptions = {},
): Promise<void> {
  checkName(name);
  if (peer.endpoint !== undefined && !isEndpoint(peer.endpoint)) {
    throw new WireGuardError(`Cannot restart a peer at "${peer.endpoint}": not HOST:PORT`);
  }
  await serialized(
    `${options.netns ?? ""}/${name}`,
    () =>
      runToolOrThrow(
        `restart a peer of "${name}"`,
        "wg",
        ["set", name, ...restartPeerArgs(peer)],
        options,
      ),
  );
}

/**
 * Points peer `publicKey` at `endpoint` and makes it send a keepalive at
 * once, keeping its session: traffic moves to the new path in a round trip.
 */
export async function kickPeer(
  name: string,
  publicKey: string,
  endpoint: string,
  keepalive: number,
  options: WgOptions = {},
): Promise<void> {
  checkName(name);
  if (!isEndpoint(endpoint)) {
    throw new WireGuardError(`Cannot point a peer at "${endpoint}": not HOST:PORT`);
  }
  await serialized(
    `${options.netns ?? ""}/${name}`,
    () =>
      runToolOrThrow(
        `move a peer of "${name}" to ${endpoint}`,
        "wg",
        ["set", name, ...kickPeerArgs(publicKey, endpoint, keepalive)],
        options,
      ),
  );
}

/**
 * Deletes the interface; one that is already gone counts as success. A
 * wireguard-go behind it exits when its link is deleted; one this process
 * started is also awaited (and killed if it lingers).
 */
export async function removeInterface(name: string, options: WgOptions = {}): Promise<void> {
  checkName(name);
  await serialized(`${options.netns ?? ""}/${name}`, async () => {
    const result = await runTool("ip", ["link", "del", "dev", name], options);
    if (result.code !== 0 && !/Cannot find device|does not exist/i.test(result.stderr)) {
      throw new WireGuardError(`Cannot remove interface "${name}": ${result.stderr}`);
    }
    const key = `${options.netns ?? ""}/${name}`;
    const child = wireguardGoChildren.get(key);
    if (child) await stopChild(child);
    wireguardGoChildren.delete(key);
  });
}

/** Which backend the running interface uses (a wireguard-go control socket means userspace). */
export async function backendOf(name: string): Promise<WgBackend> {
  checkName(name);
  try {
    await Deno.lstat(`/var/run/wireguard/${name}.sock`);
    return "userspace";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "kernel";
    throw err;
  }
}

/** Set once the kernel said it has no WireGuard: later links go to wireguard-go at once. */
let kernelLacksWireGuard = false;

async function createLink(name: string, options: ApplyOptions): Promise<WgBackend> {
  const backend = options.backend ?? "auto";
  if (backend === "kernel" || (backend === "auto" && !kernelLacksWireGuard)) {
    const result = await runTool("ip", ["link", "add", "dev", name, "type", "wireguard"], options);
    if (result.code === 0 || /File exists/i.test(result.stderr)) return "kernel";
    const unsupported = /Unknown device type|not supported|Operation not supported/i.test(
      result.stderr,
    );
    if (backend === "kernel" || !unsupported) {
      throw new WireGuardError(`Cannot create interface "${name}": ${result.stderr}`);
    }
    kernelLacksWireGuard = true;
  }
  try {
    await startWireguardGo(name, options);
  } catch (err) {
    // wireguard-go sometimes fails to set up its TUN device while the kernel is still
    // tearing down an earlier one (seen on loaded machines): once more, a moment later.
    if (!(err instanceof WireGuardError && /exited with code 1\b/.test(err.message))) throw err;
    await new Promise((resolve) => setTimeout(resolve, 500));
    if ((await readInterfaceState(name, options).catch(() => undefined)) === undefined) {
      await startWireguardGo(name, options);
    }
  }
  return "userspace";
}

async function startWireguardGo(name: string, options: ApplyOptions): Promise<void> {
  const [cmd, args] = toolArgv("wireguard-go", ["-f", name], options.netns);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      // Never piped: a pipe would kill wireguard-go with SIGPIPE once this agent exits.
      stdout: "null",
      stderr: "null",
      detached: true,
      env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "silent" },
    }).spawn();
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "wireguard-go is not installed" : String(err);
    throw new WireGuardError(`Cannot create interface "${name}": ${why}`, { cause: err });
  }
  child.unref();
  const key = `${options.netns ?? ""}/${name}`;
  wireguardGoChildren.set(key, child);
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => {
    exited = status;
    if (wireguardGoChildren.get(key) === child) wireguardGoChildren.delete(key);
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 5000);
  // Its control socket appears when it is ready: a cheap stat until then, then one full read.
  const socket = `/var/run/wireguard/${name}.sock`;
  while (Date.now() < deadline && !exited) {
    if (await Deno.lstat(socket).then(() => true, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  while (Date.now() < deadline) {
    if (exited) {
      throw new WireGuardError(
        `Cannot create interface "${name}": wireguard-go exited with code ${exited.code} (is the name in use?)`,
      );
    }
    const state = await readInterfaceState(name, options).catch((err) => {
      if (err instanceof WireGuardError) return undefined;
      throw err;
    });
    if (state) return;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  await stopChild(child);
  throw new WireGuardError(
    `Cannot create interface "${name}": wireguard-go did not come up in time`,
  );
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  if (await exitsWithin(child, 2000)) return;
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    try {
      child.kill(signal);
    } catch (err) {
      // Already exited between the wait and the kill.
      if (!(err instanceof TypeError)) throw err;
      return;
    }
    if (await exitsWithin(child, 1000)) return;
  }
}

async function exitsWithin(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const exited = await Promise.race([child.status.then(() => true), timeout]);
  clearTimeout(timer);
  return exited;
}

async function presharedKeyHash(path: string, name: string): Promise<string> {
  try {
    return keyFingerprint(await Deno.readTextFile(path));
  } catch (err) {
    throw new WireGuardError(`Cannot read a pre-shared key of "${name}" at "${path}"`, {
      cause: err,
    });
  }
}

function checkName(name: string): void {
  if (!isInterfaceName(name)) {
    throw new WireGuardError(
      `Cannot use interface "${name.slice(0, 32)}": not a valid interface name`,
    );
  }
}

function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  // The next caller runs whatever this one's outcome; this caller sees its error through `next`.
  const settled = next.catch(() => undefined);
  locks.set(key, settled);
  settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return next;
}
