/**
 * `create`: founds a net with this node as its first member.
 *
 * @module
 */
import {
  checkEndpoint,
  checkNetName,
  DEFAULT_CIDR,
  MembershipError,
  parseCidr,
} from "../membership/mod.ts";
import { defaultInterfaceName } from "./mesh_render.ts";
import { argNumber, argString, type MeshArgs } from "./mesh_control.ts";
import type { MeshContext } from "./_mesh_context.ts";
import {
  checkInterface,
  DEFAULT_LISTEN_PORT,
  endpointFrom,
  selfKeys,
  selfRequest,
} from "./_mesh_self.ts";

/** Founds net `args.name` here; brings its interface up when an agent runs. */
export async function createNet(ctx: MeshContext, args: MeshArgs): Promise<MeshArgs> {
  const name = checkNetName(argString(args, "name") ?? "");
  const cidr = parseCidr(argString(args, "cidr") ?? DEFAULT_CIDR);
  const iface = argString(args, "interface") ?? defaultInterfaceName(name);
  const listenPort = argNumber(args, "listenPort") ?? DEFAULT_LISTEN_PORT;
  if (listenPort < 1 || listenPort > 65535) {
    throw new MembershipError(`Invalid port "${listenPort}": use 1 to 65535`);
  }
  const given = argString(args, "endpoint");
  if (given) checkEndpoint(given);
  checkInterface(ctx.nets, name, iface);
  if (ctx.nets.get(name)) {
    throw new MembershipError(`A net called "${name}" already exists on this node`);
  }
  const keys = await selfKeys(ctx, name);
  const endpoint = given ?? endpointFrom(ctx.advertise, listenPort);
  const state = await ctx.nets.create({
    name,
    cidr: cidr.text,
    policy: args.open === true ? "open" : "invite",
    psk: args.psk === true,
    interface: iface,
    listenPort,
    endpoint: given,
    request: (net) => selfRequest(ctx, args, { net, name, keys, endpoint }),
  });
  if (ctx.online) await ctx.reconciler.reconcileNet(state, true);
  const self = state.set.members.get(ctx.selfId)!;
  return {
    name,
    net: state.settings.net,
    address: self.address,
    interface: iface,
    cidr: cidr.text,
  };
}
