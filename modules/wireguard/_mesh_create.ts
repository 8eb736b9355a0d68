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
  readSettings,
} from "../membership/mod.ts";
import { defaultInterfaceName } from "./mesh_render.ts";
import { argNumber, argString, type MeshArgs } from "./mesh_control.ts";
import type { MeshContext } from "./_mesh_context.ts";
import {
  checkInterface,
  checkNoOverlap,
  endpointFrom,
  listenPortFor,
  selfKeys,
  selfRequest,
  undoNet,
} from "./_mesh_self.ts";

/**
 * Founds net `args.name`; brings its interface up when an agent runs. All or
 * nothing: when the interface cannot be brought up, the interface (and its
 * wireguard-go) and the net's folder are removed again and the error thrown.
 */
export async function createNet(ctx: MeshContext, args: MeshArgs): Promise<MeshArgs> {
  const name = checkNetName(argString(args, "name") ?? "");
  const cidr = parseCidr(argString(args, "cidr") ?? DEFAULT_CIDR);
  const iface = argString(args, "interface") ?? defaultInterfaceName(name);
  const given = argString(args, "endpoint");
  if (given) checkEndpoint(given);
  checkInterface(ctx.nets, name, iface);
  if (ctx.nets.get(name) || await readSettings(ctx.home, name)) {
    throw new MembershipError(`A net called "${name}" already exists on this node`);
  }
  checkNoOverlap(ctx.nets, name, cidr);
  const listenPort = await listenPortFor(ctx.nets, name, argNumber(args, "listenPort"));
  return await ctx.reconciler.holding(name, async () => {
    const existed = ctx.online && (await ctx.wg.readLinkState(iface)).exists;
    try {
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
        listenPort,
      };
    } catch (err) {
      await undoNet(ctx, name, existed ? undefined : iface);
      throw err;
    }
  });
}
