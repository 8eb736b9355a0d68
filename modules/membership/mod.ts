/**
 * Membership of WireGuard nets: signed, content-addressed records folded
 * into a member set that every node computes alike; invites; address
 * allocation; replication by anti-entropy; pairwise post-quantum PSKs.
 *
 * @example
 * ```ts
 * import { foldMembers, liveMembers, parseRecord } from "./mod.ts";
 * const records = await Promise.all(files.map((bytes) => parseRecord(bytes, netId)));
 * const set = foldMembers(records, netId);
 * liveMembers(set).map((m) => m.address);
 * ```
 *
 * @module
 */
export { JoinUnreachable, MEMBERSHIP_ERROR_CODE, MembershipError } from "./errors.ts";
export {
  checkEndpoint,
  checkGridUrl,
  checkNetName,
  ENDPOINT,
  GRID_URL,
  NET_NAME,
  NODE_NAME,
  nodeNameFrom,
  WG_KEY,
} from "./patterns.ts";
export { type Cidr, cidrsOverlap, DEFAULT_CIDR, parseCidr } from "./ipam.ts";
export { IPV6_PREFIX_LENGTH, ipv6Of, ipv6Prefix } from "./ipv6.ts";
export {
  checkInviteFor,
  createInvite,
  type CreateInviteOptions,
  type Invite,
  type InviteToken,
  isoSeconds,
  MAX_INVITE_TTL_MS,
  MAX_INVITE_USES,
  parseDuration,
  parseInvite,
  parseInviteToken,
} from "./invite.ts";
export {
  type MemberRequest,
  type MemberRequestFields,
  type RequestProofs,
  signMemberRequest,
} from "./member_request.ts";
export {
  type InvitePolicy,
  type MemberRecord,
  type NetPolicy,
  parseRecord,
  type RecordDraft,
  type Role,
  signRecord,
} from "./records.ts";
export {
  type AdminGrant,
  findMember,
  foldMembers,
  isAdmin,
  isLive,
  liveMembers,
  mayInvite,
  type Member,
  type MemberRole,
  type MemberSet,
  type MemberStatus,
  type NetInfo,
  SPONSOR_QUOTA,
} from "./member_set.ts";
export {
  type Announcement,
  AnnouncementBook,
  type AnnouncementFields,
  type Observation,
  signAnnouncement,
} from "./announcements.ts";
export {
  ADMISSION_PROMISE,
  ADMISSION_TEXT,
  LEGACY_PROMISES,
  MEMBERSHIP_PROMISES,
} from "./protocol.ts";
export { ensureSecret, netDir, type NetSettings, readSettings } from "./net_store.ts";
export { type IngestResult, memberReach, Nets, type NetsOptions, type NetState } from "./nets.ts";
export { decapsulatePsk, encapsulatePsk, kemKeyPair } from "./psk.ts";
export { PskExchange, type PskExchangeOptions } from "./psk_exchange.ts";
export { type Admission, requestAdmission } from "./join_client.ts";
export { AntiEntropy, type AntiEntropyOptions, SYNC_INTERVAL_MS } from "./anti_entropy.ts";
export { type BookedInvite, InviteBook } from "./invite_book.ts";
