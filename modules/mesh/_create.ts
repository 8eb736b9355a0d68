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
import { checkReachableHost } from "../../kernel/peers/mod.ts";
import { defaultInterfaceName } from "./render.ts";
import type { CreateRequest, CreateResult } from "./protocol.ts";
import type { MeshContext } from "./_context.ts";
import {
  checkCanMake,
  checkInterface,
  checkNoOverlap,
  endpointFrom,
  listenPortFor,
  selfKeys,
  selfRequest,
  undoNet,
} from "./_self.ts";

/**
 * Founds net `req.name`; brings its interface up when an agent runs. All or
 * nothing: when the interface cannot be brought up, the interface (and its
 * wireguard-go) and the net's folder are removed again and the error thrown.
 */
export async function createNet(ctx: MeshContext, req: CreateRequest): Promise<CreateResult> {
  const name = checkNetName(req.name);
  const cidr = parseCidr(req.cidr ?? DEFAULT_CIDR);
  const iface = req.interface ?? defaultInterfaceName(name);
  const given = req.endpoint ? checkEndpoint(req.endpoint) : undefined;
  checkInterface(ctx.nets, name, iface);
  if (ctx.nets.get(name) || await readSettings(ctx.home, name)) {
    throw new MembershipError(`A net called "${name}" already exists on this node`);
  }
  checkNoOverlap(ctx.nets, name, cidr);
  await checkCanMake(ctx, name, iface);
  if (given) {
    const host = given.slice(0, given.lastIndexOf(":"));
    await checkReachableHost(host, `Invalid --endpoint ${req.endpoint}`);
  }
  const listenPort = await listenPortFor(ctx.nets, name, req.listenPort);
  return await ctx.reconciler.holding(name, async () => {
    const existed = ctx.online && (await ctx.wg.readLinkState(iface)).exists;
    try {
      const keys = await selfKeys(ctx, name);
      const endpoint = given ?? endpointFrom(ctx.advertise, listenPort);
      const state = await ctx.nets.create({
        name,
        cidr: cidr.text,
        policy: req.open === true ? "open" : "invite",
        invite: req.inviteBy ?? "members",
        psk: req.psk === true,
        interface: iface,
        listenPort,
        endpoint: given,
        request: (net) => selfRequest(ctx, req.nodeName, { net, name, keys, endpoint }),
      });
      if (ctx.online) await ctx.reconciler.reconcileNet(state, true);
      const self = state.set.members.get(ctx.selfId)!;
      return {
        name,
        net: state.settings.net,
        address: self.address,
        address6: self.address6,
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
