/**
 * What this node brings to a net it founds or joins: its interface name, its
 * display name, its endpoint, its keys, and the signed member request that
 * carries them.
 *
 * @module
 */
import { CID } from "../../kernel/mod.ts";
import { signWithWgKeyFile, WireGuardError } from "../wireguard/mod.ts";
import type { MeshContext } from "./_context.ts";
import { checkLinkFree } from "./_interfaces.ts";

export { DEFAULT_LISTEN_PORT } from "./_listen_port.ts";
import { freeListenPort } from "./_listen_port.ts";
import {
  type Cidr,
  cidrsOverlap,
  ensureSecret,
  kemKeyPair,
  type MemberRequest,
  MembershipError,
  netDir,
  type Nets,
  NODE_NAME,
  nodeNameFrom,
  signMemberRequest,
} from "../membership/mod.ts";

/** `HOST:port` from a grid URL, or undefined when it names no usable host. */
export function endpointFrom(advertise: string | undefined, port: number): string | undefined {
  if (!advertise) return undefined;
  try {
    const host = new URL(advertise).hostname;
    if (!host || host === "0.0.0.0" || host === "[::]") return undefined;
    return `${host}:${port}`;
  } catch {
    return undefined; // no usable host in the URL: no endpoint
  }
}

function hostname(): string {
  try {
    return nodeNameFrom(Deno.hostname());
  } catch {
    return "node"; // no permission to read the hostname
  }
}

/** Throws unless `iface` is a valid interface name no other net here uses. */
export function checkInterface(nets: Nets, name: string, iface: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,14}$/.test(iface)) {
    throw new MembershipError(
      `Invalid interface name "${iface.slice(0, 20)}": 1 to 15 letters, digits or _.=+-`,
    );
  }
  for (const other of nets.names()) {
    if (other !== name && nets.get(other)!.settings.interface === iface) {
      throw new MembershipError(`Interface "${iface}" is already used by net "${other}"`);
    }
  }
}

/** Throws unless block `cidr` is clear of every other net of this node. */
export function checkNoOverlap(nets: Nets, name: string, cidr: Cidr): void {
  for (const other of nets.names()) {
    const theirs = nets.get(other)!.set.net.cidr;
    if (other !== name && cidrsOverlap(cidr, theirs)) {
      throw new MembershipError(
        `CIDR ${cidr.text} overlaps ${theirs.text} of net "${other}" on this node`,
      );
    }
  }
}

/**
 * The listen port for net `name`: the one given (refused if another net here
 * uses it), else the first free one from 51820 up that no other net here uses.
 */
export async function listenPortFor(
  nets: Nets,
  name: string,
  given: number | undefined,
): Promise<number> {
  const taken = new Map<number, string>();
  for (const other of nets.names()) {
    if (other !== name) taken.set(nets.get(other)!.settings.listenPort, other);
  }
  if (given === undefined) return await freeListenPort(new Set(taken.keys()));
  if (!Number.isInteger(given) || given < 1 || given > 65535) {
    throw new MembershipError(`Invalid port "${given}": use 1 to 65535`);
  }
  const user = taken.get(given);
  if (user !== undefined) {
    throw new MembershipError(`Listen port ${given} is already used by net "${user}" on this node`);
  }
  return given;
}

/**
 * Undoes a failed create or join of net `name`: removes interface `iface`
 * (when given: only one this operation may have made) with its wireguard-go,
 * and the net's folder, so nothing of it is left live or on disk.
 */
export async function undoNet(
  ctx: MeshContext,
  name: string,
  iface: string | undefined,
): Promise<void> {
  if (iface !== undefined && ctx.online) await ctx.reconciler.undo(name, iface);
  try {
    await ctx.nets.forget(name);
  } catch (err) {
    ctx.log("warn", "net-undo-failed", { net: name, why: String(err) });
  }
}

/** This node's display name in a net: `--name` (`given`), else the hostname. */
export function nodeName(given: string | undefined): string {
  if (given !== undefined && !NODE_NAME.test(given)) {
    throw new MembershipError(
      `Invalid node name "${given.slice(0, 40)}": 1 to 63 letters, digits, ".", "_" or "-"`,
    );
  }
  return given ?? hostname();
}

/** This node's public keys in one net. */
export interface SelfKeys {
  /** WireGuard public key. */
  wg: string;
  /** The file holding its private key (it signs the proof that this node holds it). */
  wgKeyFile: string;
  /** ML-KEM public key (PSK exchange). */
  kem: Uint8Array;
}

/** Makes (or reuses) this node's WireGuard key and KEM seed for net `name`. */
export async function selfKeys(ctx: MeshContext, name: string): Promise<SelfKeys> {
  const dir = netDir(ctx.home, name);
  const { publicKey, privateKeyFile } = await ctx.wg.generateKeyPair(dir);
  const seed = await ensureSecret(
    `${dir}/kem.seed`,
    () => crypto.getRandomValues(new Uint8Array(32)),
  );
  return { wg: publicKey, wgKeyFile: privateKeyFile, kem: (await kemKeyPair(seed)).publicKey };
}

/** Options for {@link selfRequest}. */
export interface SelfRequestOptions {
  /** The net's id (empty when joining without an invite: the admitter's answer names it). */
  net: string;
  /** The net's name. */
  name: string;
  /** This node's keys in the net. */
  keys: SelfKeys;
  /** This node's WireGuard endpoint, if it has one. */
  endpoint: string | undefined;
  /** The invite (signed bytes) and its secret seed, when joining with one. */
  invite?: { bytes: Uint8Array; seed: Uint8Array };
}

/** Signs the member request announcing this node, with display name `given` (else the hostname). */
export function selfRequest(
  ctx: MeshContext,
  given: string | undefined,
  options: SelfRequestOptions,
): Promise<MemberRequest> {
  const wgKeyFile = options.keys.wgKeyFile;
  return signMemberRequest(ctx.identity, {
    net: options.net,
    netName: options.name,
    name: nodeName(given),
    wg: options.keys.wg,
    endpoint: options.endpoint,
    url: ctx.advertise,
    kem: options.keys.kem,
    promise: CID.parse(ctx.joinPromise),
    time: Date.now(),
  }, {
    signWithWgKey: (message) => signWithWgKeyFile(wgKeyFile, message),
    invite: options.invite,
  });
}

/**
 * Throws (one line, nothing written) unless this node can make net `name`'s
 * interface `iface`: WireGuard can be managed here (privilege, tools,
 * backend), and the link does not exist or grid made it.
 */
export async function checkCanMake(ctx: MeshContext, name: string, iface: string): Promise<void> {
  const why = await ctx.wg.preflight();
  if (why) throw new WireGuardError(why);
  await checkLinkFree(ctx.wg, ctx.reconciler.owned, name, iface);
}
