/**
 * The admission rules, pure: whether an admin may admit a joiner's request
 * into a net as it stands (open or invite policy; an invite naming this
 * admin, unexpired, unused, by a member entitled to invite; never a revoked
 * node; the WireGuard key free; the sponsor's quota), and at which tunnel
 * address in this admin's slice. Signing and keeping the admit is
 * {@link Nets.admit}'s part; the fold checks the same rules again.
 *
 * @module
 */
import { isAdmin, isLive, mayInvite, type MemberSet, SPONSOR_QUOTA } from "./member_set.ts";
import { allocateAddress, type Cidr } from "./ipam.ts";
import { checkInvite } from "./invite.ts";
import type { MemberRequest } from "./member_request.ts";
import { MembershipError } from "./errors.ts";

/** Options for {@link planAdmission}. */
export interface PlanAdmissionOptions {
  /** The admitting node's id. */
  selfId: string;
  /** The time now, in ms since the epoch (invite expiry). */
  now: number;
  /** Whether invite `id`, made by `inviter`, was revoked (by its inviter, or here). */
  revokedInvite?: (id: string, inviter: string) => boolean;
}

/** What an admission comes to: a new admit at `address`, or a retry of one made already. */
export interface AdmissionPlan {
  /** True when the joiner, with the same WireGuard key, is a live member already. */
  again: boolean;
  /** The joiner's tunnel address. */
  address: string;
}

/** The block admin `id` allocates from, and the slices it must keep out of (for the founder). */
export function allocationBlock(set: MemberSet, id: string): { within?: Cidr; exclude: Cidr[] } {
  if (id !== set.net.founder) {
    const grant = set.admins.get(id);
    if (!grant) throw new MembershipError(`Node "${id}" has no address slice in "${set.net.name}"`);
    return { within: grant.slice, exclude: [] };
  }
  return { exclude: [...set.admins.values()].map((g) => g.slice) };
}

/** Checks `req` against the net's rules; throws {@link MembershipError} saying why not. */
export function planAdmission(
  set: MemberSet,
  req: MemberRequest,
  options: PlanAdmissionOptions,
): AdmissionPlan {
  const name = set.net.name;
  if (!isAdmin(set, options.selfId)) {
    throw new MembershipError(`This node is not an admin of net "${name}": only admins admit`);
  }
  const existing = set.members.get(req.id);
  if (existing?.status === "revoked" || set.status.get(req.id) === "revoked") {
    throw new MembershipError(`Node "${req.id}" was revoked from net "${name}"`);
  }
  if (existing?.status === "live") {
    if (existing.wg === req.wg) return { again: true, address: existing.address };
    throw new MembershipError(`Node "${req.id}" is already a member of net "${name}"`);
  }
  if (req.net === "" && set.net.policy !== "open") {
    throw new MembershipError(`Net "${name}" is closed: an invite is required`);
  }
  if (set.net.policy === "invite" && !req.invite) {
    throw new MembershipError(`Net "${name}" is closed: an invite is required`);
  }
  let sponsor = req.id;
  if (req.invite) {
    checkInvite(req.invite, {
      netId: set.net.id,
      selfId: options.selfId,
      inviterProblem: (id) =>
        !isLive(set, id)
          ? "is not a live member"
          : mayInvite(set, id)
          ? undefined
          : "may not invite (only admins invite to this net)",
      usesOf: (key) => set.inviteUses.get(key) ?? 0,
      now: options.now,
    });
    if (options.revokedInvite?.(req.invite.id, req.invite.by)) {
      throw new MembershipError("The invite was revoked by the member who made it");
    }
    if (!isAdmin(set, req.invite.by)) sponsor = set.members.get(req.invite.by)?.sponsor ?? sponsor;
  }
  const live = [...set.members.values()].filter((m) => m.status === "live");
  if (live.some((m) => m.wg === req.wg)) {
    throw new MembershipError("The joiner's WireGuard key is held by another member");
  }
  if (sponsor !== req.id && live.filter((m) => m.sponsor === sponsor).length >= SPONSOR_QUOTA) {
    throw new MembershipError(
      `The members invited from "${sponsor}" and their invitees number ${SPONSOR_QUOTA} already`,
    );
  }
  const former = [...set.members.values()].filter((m) => m.status !== "live");
  // A node that comes back keeps its tunnel address when it is free (inside this admin's block).
  const own = former.filter((m) => m.id === req.id).map((m) => m.address);
  const address = allocateAddress(set.net.cidr, req.wg, new Set(live.map((m) => m.address)), {
    avoid: new Set(former.filter((m) => m.id !== req.id).map((m) => m.address)),
    prefer: own,
    ...allocationBlock(set, options.selfId),
  });
  return { again: false, address };
}
