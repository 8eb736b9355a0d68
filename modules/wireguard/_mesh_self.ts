/**
 * What this node brings to a net it founds or joins: its interface name, its
 * display name, its endpoint, its keys, and the signed member request that
 * carries them.
 *
 * @module
 */
import { CID } from "../../kernel/mod.ts";
import {
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
import { argString, type MeshArgs } from "./mesh_control.ts";
import type { MeshContext } from "./_mesh_context.ts";

/** Default WireGuard port. */
export const DEFAULT_LISTEN_PORT = 51820;

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

/** This node's display name in a net: `--name`, else the hostname. */
export function nodeName(args: MeshArgs): string {
  const given = argString(args, "nodeName");
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
  /** ML-KEM public key (PSK exchange). */
  kem: Uint8Array;
}

/** Makes (or reuses) this node's WireGuard key and KEM seed for net `name`. */
export async function selfKeys(ctx: MeshContext, name: string): Promise<SelfKeys> {
  const dir = netDir(ctx.home, name);
  const { publicKey } = await ctx.wg.generateKeyPair(dir);
  const seed = await ensureSecret(
    `${dir}/kem.seed`,
    () => crypto.getRandomValues(new Uint8Array(32)),
  );
  return { wg: publicKey, kem: kemKeyPair(seed).publicKey };
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
  /** The invite's bytes, when joining with one. */
  invite?: Uint8Array;
}

/** Signs the member request announcing this node, with the display name from `args`. */
export function selfRequest(
  ctx: MeshContext,
  args: MeshArgs,
  options: SelfRequestOptions,
): Promise<MemberRequest> {
  return signMemberRequest(ctx.identity, {
    net: options.net,
    netName: options.name,
    name: nodeName(args),
    wg: options.keys.wg,
    endpoint: options.endpoint,
    url: ctx.advertise,
    kem: options.keys.kem,
    promise: CID.parse(ctx.joinPromise),
    time: Date.now(),
    invite: options.invite,
  });
}
