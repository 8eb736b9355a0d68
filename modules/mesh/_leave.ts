/**
 * Members going away: `leave` (this node, with a signed leave record that is
 * kept until a member has heard it) and `revoke` (another member, for cause).
 *
 * @module
 */
import { findMember, isAdmin, isLive, MembershipError, type NetState } from "../membership/mod.ts";
import type { LeaveRequest, LeaveResult, RevokeRequest, RevokeResult } from "./protocol.ts";
import type { MeshContext } from "./_context.ts";

/** How long a leave or revoke waits for the members to take its record. */
const PUSH_WAIT_MS = 3000;

/** Records the leave, tells the members, removes the interface and the net here. */
export async function leaveNet(ctx: MeshContext, req: LeaveRequest): Promise<LeaveResult> {
  const name = req.name;
  const state = ctx.nets.require(name);
  const live = isLive(state.set, ctx.selfId) && !state.settings.revoked;
  if (live) await ctx.nets.append(name, { kind: "left" });
  await ctx.reconciler.removeInterface(name, state.settings.interface);
  ctx.reconciler.removed(name);
  if (!live) {
    // Revoked (or never admitted): nobody needs to hear; the net goes from this node now.
    await ctx.nets.forget(name);
    ctx.log("info", "net-left", {
      net: name,
      why: state.settings.revoked ? "revoked" : "not a member",
    });
    return { name, left: true, told: true };
  }
  const told = await finishLeave(ctx, state);
  return { name, left: true, told };
}

/**
 * Tells the members of a net this node left, then forgets the net here.
 * While nobody has heard (no agent, no peer up), the net and its leave
 * record stay on disk and every reconcile pass tries again. True once done.
 */
export async function finishLeave(ctx: MeshContext, state: NetState): Promise<boolean> {
  const mine = [...state.records.values()].filter((r) =>
    r.kind === "left" && r.author === ctx.selfId
  );
  const others = [...state.set.members.values()].filter((m) =>
    m.status === "live" && m.id !== ctx.selfId
  );
  const acked = others.length === 0 || !ctx.online
    ? 0
    : await withTimeout(ctx.sync.push(state, mine), PUSH_WAIT_MS) ?? 0;
  if (others.length > 0 && acked === 0) return false;
  await ctx.nets.forget(state.settings.name);
  ctx.log("info", "net-left", { net: state.settings.name });
  return true;
}

/**
 * Best effort, for a join that failed after admission: records this node's
 * leave and pushes it to the members (waiting at most a few seconds), so
 * none of them keeps a peer that never comes. Failures are logged.
 */
export async function withdraw(ctx: MeshContext, state: NetState): Promise<void> {
  const name = state.settings.name;
  try {
    const record = await ctx.nets.append(name, { kind: "left" });
    const told = await withTimeout(ctx.sync.push(state, [record]), PUSH_WAIT_MS) ?? 0;
    ctx.log("info", "join-withdrawn", { net: name, told });
  } catch (err) {
    ctx.log("warn", "join-withdraw-failed", { net: name, why: String(err) });
  }
}

/** Every member drops node `req.node` (an id, name or tunnel address) of net `req.name`. */
export async function revokeMember(ctx: MeshContext, req: RevokeRequest): Promise<RevokeResult> {
  const name = req.name;
  const state = ctx.nets.require(name);
  const member = findMember(state.set, req.node);
  const set = state.set;
  if (member.id === ctx.selfId) {
    throw new MembershipError(
      `Cannot revoke this node itself; use grid leave-wireguard-net ${name}`,
    );
  }
  if (!isAdmin(set, ctx.selfId)) {
    throw new MembershipError(
      `Only an admin may revoke a member of net "${name}"; this node is not one (grid admins ${name} lists them)`,
    );
  }
  if (member.id === set.net.founder) {
    throw new MembershipError(`The founder of net "${name}" cannot be revoked`);
  }
  if (isAdmin(set, member.id) && ctx.selfId !== set.net.founder) {
    throw new MembershipError(
      `Node "${member.name}" is an admin of net "${name}": only the founder may revoke it`,
    );
  }
  if (member.status !== "live") {
    throw new MembershipError(
      `Node "${member.name}" (${member.id}) has already ${
        member.status === "left" ? "left" : "been revoked"
      }`,
    );
  }
  const before = new Set(
    [...set.members.values()].filter((m) => m.status === "live").map((m) => m.id),
  );
  const record = await ctx.nets.append(name, {
    kind: "revoked",
    member: member.id,
    admit: member.admit,
    lineage: req.lineage === true,
  });
  const also = [...state.set.members.values()]
    .filter((m) => m.id !== member.id && before.has(m.id) && m.status === "revoked")
    .map((m) => m.name);
  await withTimeout(ctx.sync.push(state, [record]), PUSH_WAIT_MS);
  if (ctx.online) await ctx.reconciler.reconcileNet(state, true);
  return { name, revoked: member.id, memberName: member.name, address: member.address, also };
}

/** `work`'s result, or undefined when it takes longer than `ms`. */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
