/**
 * The admission rules, pure: whether a live member may admit a joiner's
 * request into a net as it stands (open or invite policy; an unexpired,
 * unused invite by a live member; never a revoked node), and at which
 * tunnel address. Signing and keeping the admit is {@link Nets.admit}'s part.
 *
 * @module
 */
import { isLive, type MemberSet } from "./member_set.ts";
import { allocateAddress } from "./ipam.ts";
import { checkInvite } from "./invite.ts";
import type { MemberRequest } from "./member_request.ts";
import { MembershipError } from "./errors.ts";

/** Options for {@link planAdmission}. */
export interface PlanAdmissionOptions {
  /** The admitting node's id. */
  selfId: string;
  /** The time now, in ms since the epoch (invite expiry). */
  now: number;
}

/** What an admission comes to: a new admit at `address`, or a retry of one made already. */
export interface AdmissionPlan {
  /** True when the joiner, with the same WireGuard key, is a live member already. */
  again: boolean;
  /** The joiner's tunnel address. */
  address: string;
}

/** Checks `req` against the net's rules; throws {@link MembershipError} saying why not. */
export function planAdmission(
  set: MemberSet,
  req: MemberRequest,
  options: PlanAdmissionOptions,
): AdmissionPlan {
  const name = set.net.name;
  if (!isLive(set, options.selfId)) {
    throw new MembershipError(`This node is no longer a live member of net "${name}"`);
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
  if (req.invite) {
    checkInvite(req.invite, {
      netId: set.net.id,
      isLiveMember: (id) => isLive(set, id),
      usesOf: (key) => set.inviteUses.get(key) ?? 0,
      now: options.now,
    });
  }
  const live = [...set.members.values()].filter((m) => m.status === "live");
  const former = [...set.members.values()].filter((m) => m.status !== "live");
  const address = allocateAddress(set.net.cidr, req.wg, new Set(live.map((m) => m.address)), {
    avoid: new Set(former.map((m) => m.address)),
  });
  return { again: false, address };
}
