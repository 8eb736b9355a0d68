/**
 * `join`: asks a member to admit this node (with an invite, through a
 * member's URL, or for an open net through the grid peers already
 * connected), adopts the net's records, then brings the interface up.
 *
 * @module
 */
import {
  ADMISSION_PROMISE,
  ADMISSION_TEXT,
  checkEndpoint,
  checkInviteFor,
  checkNetName,
  isLive,
  JoinUnreachable,
  MembershipError,
  type NetState,
  requestAdmission,
} from "../membership/mod.ts";
import { checkReachableHost, parsePeerUrl, urlHost } from "../../kernel/peers/mod.ts";
import { defaultInterfaceName } from "./render.ts";
import type { JoinRequest, JoinResult } from "./protocol.ts";
import type { MeshContext } from "./_context.ts";
import { withdraw } from "./_leave.ts";
import { buildNameTable, namedNets, nameOf } from "../names/mod.ts";
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

/** How long a join without an invite or URL waits for a first grid peer. */
export const PEER_WAIT_MS = 5000;

/** Where a join asks: the member URLs, and with an invite the net's id and the invite. */
interface JoinTarget {
  urls: string[];
  net: string;
  invite?: { bytes: Uint8Array; seed: Uint8Array };
}

/** The target of a join from `--invite` or `--via` (neither: no URL, ask connected peers). */
async function joinTarget(name: string, req: JoinRequest): Promise<JoinTarget> {
  const inviteText = req.invite;
  const via = req.via;
  if (inviteText) {
    const token = await checkInviteFor(inviteText, name);
    const invite = token.invite;
    return {
      urls: invite.urls,
      net: invite.net,
      invite: { bytes: invite.bytes, seed: token.seed },
    };
  }
  // The same checks as any peer URL (ws or wss, a host, no link-local address, no credentials).
  if (via) parsePeerUrl(via);
  return { urls: via ? [via] : [], net: via ? req.net ?? "" : "" };
}

/**
 * Joins net `req.name`. All or nothing: when the interface cannot be brought
 * up, the interface and the net's folder are removed and the error thrown.
 * Already a live member: re-applies and says so.
 */
export async function joinNet(
  ctx: MeshContext,
  req: JoinRequest,
  signal?: AbortSignal,
): Promise<JoinResult> {
  const name = checkNetName(req.name);
  // The invite is checked first, also for a net this node is already in.
  const { urls, net, invite } = await joinTarget(name, req);
  const existing = ctx.nets.get(name);
  if (existing) {
    const revoked = existing.settings.revoked?.by ??
      existing.set.members.get(ctx.selfId)?.revokedBy;
    if (isLive(existing.set, ctx.selfId) && !existing.settings.revoked) {
      await ctx.reconciler.reconcileNet(existing, true);
      return { ...joined(ctx, existing, ""), already: true };
    }
    if (revoked !== undefined) {
      const by = existing.set.members.get(revoked)?.name ?? revoked;
      throw new MembershipError(
        `This node was revoked from net "${name}" by ${by}; this identity cannot rejoin it. ` +
          `To start over as a new node: grid leave-wireguard-net ${name}, then use a new grid home (GRID_HOME=/new/path) for a new identity`,
      );
    }
    throw new MembershipError(
      `This node was in net "${name}" and is no longer a live member; leave it first (grid leave-wireguard-net ${name})`,
    );
  }
  if (!ctx.online) throw new MembershipError("Joining needs a running agent");
  const iface = req.interface ?? defaultInterfaceName(name);
  checkInterface(ctx.nets, name, iface);
  // Before the invite is spent or any record written: can this node make the interface?
  await checkCanMake(ctx, name, iface);
  const given = req.endpoint ? checkEndpoint(req.endpoint) : undefined;
  if (given) {
    const host = given.slice(0, given.lastIndexOf(":"));
    await checkReachableHost(host, `Invalid --endpoint ${req.endpoint}`);
  }
  const listenPort = await listenPortFor(ctx.nets, name, req.listenPort);
  let peerIds: string[] = [];
  if (urls.length === 0) {
    // An open net, joined through the grid peers this node already knows.
    peerIds = await connectedPeers(ctx, PEER_WAIT_MS, signal);
    if (peerIds.length === 0) {
      throw new MembershipError(
        `Joining net "${name}" needs an invite, or for an open net a member on the local network or its URL (--via ws://HOST:PORT or grid peers add URL)`,
      );
    }
  }
  // With `--advertise auto`: this node's address towards the net, before it signs its request.
  const towards = urls[0] ? urlHost(urls[0]) : undefined;
  await ctx.refreshAdvertise(towards);
  const endpoint = given ?? endpointFrom(ctx.advertise, listenPort);
  return await ctx.reconciler.holding(name, async () => {
    const existed = (await ctx.wg.readLinkState(iface)).exists;
    try {
      const keys = await selfKeys(ctx, name);
      const request = await selfRequest(ctx, req.nodeName, { net, name, keys, endpoint, invite });
      const admission = await requestAdmission({
        peers: ctx.peers,
        urls,
        peerIds,
        request,
        signal,
      });
      if (net !== "" && admission.net !== net) {
        throw new MembershipError("The member answered for another net than the invite names");
      }
      if (!admission.promise.equals(ADMISSION_PROMISE)) {
        throw new MembershipError(
          "The member admitted this node without the net's admission promise",
        );
      }
      const state = await ctx.nets.adopt({
        name,
        net: admission.net,
        interface: iface,
        listenPort,
        endpoint: given,
      }, admission.records);
      if (!isLive(state.set, ctx.selfId)) {
        throw new MembershipError(`Net "${name}" did not admit this node`);
      }
      checkNoOverlap(ctx.nets, name, state.set.net.cidr);
      ctx.log("info", "net-joined", { net: name, by: admission.peer });
      ctx.sync.dialMembers(state);
      await ctx.reconciler.reconcileNet(state, true);
      return joined(ctx, state, admission.peer);
    } catch (err) {
      // Admitted, then failed here: the members are told this node left,
      // so no member keeps a peer that never comes.
      const adopted = ctx.nets.get(name);
      if (adopted && isLive(adopted.set, ctx.selfId)) await withdraw(ctx, adopted);
      // No answer came: the admin may have admitted this node all the same. The keys stay,
      // so a retry presents the same ones and is answered with that admission.
      const keepKeys = err instanceof JoinUnreachable;
      await undoNet(ctx, name, existed ? undefined : iface, { keepKeys });
      throw err;
    }
  });
}

/** The connected peers' ids, waiting up to `ms` for a first one. */
async function connectedPeers(
  ctx: MeshContext,
  ms: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const deadline = Date.now() + ms;
  while (ctx.peers.connected().length === 0 && Date.now() < deadline && !signal?.aborted) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return ctx.peers.connected().map((p) => p.id);
}

function joined(ctx: MeshContext, state: NetState, by: string): JoinResult {
  const self = state.set.members.get(ctx.selfId)!;
  const twins = [...state.set.members.values()].filter((m) =>
    m.status === "live" && m.id !== self.id && m.name.toLowerCase() === self.name.toLowerCase()
  );
  // Names are unique in DNS: the member admitted first keeps one, later ones get NAME-2, ...
  const dns = nameOf(buildNameTable(namedNets([state.set])), state.set.net.name, self.id);
  const answers = dns === undefined ? "" : `; it answers as ${dns}`;
  const warnings = twins.length === 0 ? [] : [
    `another member of net "${state.settings.name}" is also called "${self.name}": commands that name it are ambiguous (join with --name to pick another)${answers}`,
  ];
  return {
    ...(warnings.length > 0 ? { warnings } : {}),
    name: state.settings.name,
    net: state.settings.net,
    address: self.address,
    address6: self.address6,
    interface: state.settings.interface,
    admittedBy: by,
    founder: state.set.net.founder,
    promise: ADMISSION_TEXT,
  };
}
