/**
 * The membership wire protocol (version 2): the promises its messages lead
 * with, the module hash they are addressed to, and builders for each message.
 * All of it is CBOR parms through the kernel, never JSON.
 *
 * - `[SYNC, MEMBERSHIP, "check", netId, headsDigest, announcementsDigest]` →
 *   `[ACCEPT, "ok", sameRecords, sameAnnouncements]`: a round in a quiet net
 *   ends here; only what differs is then exchanged in full.
 * - `[SYNC, MEMBERSHIP, "sync", netId, hashes]` → `[ACCEPT, "ok", records, wanted]`:
 *   the sender's record hashes; the reply carries records the sender lacks
 *   and the hashes the replier lacks (both bounded).
 * - `[SYNC, MEMBERSHIP, "push", netId, records]` → `[ACCEPT, "ok", kept]`.
 * - `[SYNC, MEMBERSHIP, "anns", netId, digest]` → `[ACCEPT, "ok", announcements, wanted]`:
 *   the sender's `[author, seq]` pairs; the reply carries newer announcements
 *   and the authors the replier wants.
 * - `[SYNC, MEMBERSHIP, "announce", netId, announcements]` → `[ACCEPT, "ok", kept]`.
 * - `[SYNC, MEMBERSHIP, "revoked", netId, record]` → `[ACCEPT, "ok", taken]`: an admin
 *   tells a member it revoked (that node gets no other record).
 * - `[JOIN, MEMBERSHIP, "join", request]` → `[ACCEPT, "ok", netId, records, admissionPromise, address]`
 *   (a member that is not an admin passes the request on to one).
 * - `[PSK, MEMBERSHIP, "psk", netId, cipherText]` → `[ACCEPT, "ok", confirmTag]`.
 *
 * A node of grid 0.1 speaks version 1 of these promises: {@link LEGACY_PROMISES}
 * are accepted only to answer them with one line naming both versions.
 *
 * @module
 */
import {
  type CID,
  definePromise,
  hashText,
  type KnownPromise,
  type Parms,
} from "../../kernel/mod.ts";

/** The membership module's text; its hash is the module id peers address. */
export const MEMBERSHIP_TEXT =
  "grid/module/membership/v2: I keep the signed membership records and announcements of the nets this node belongs to. I share them only with live members, keep only what verifies, and admit joiners only as an admin, under the net's rules.";
/** The membership module's id. */
export const MEMBERSHIP_MODULE: CID = hashText(MEMBERSHIP_TEXT);

/** Replication between members. */
export const SYNC_PROMISE: KnownPromise = definePromise({
  text:
    "grid/membership/sync/v2: I am a member of this net. I send you membership records, announcements, or what I hold of them; everything I send is something I verified, and I will verify everything you send before I keep it.",
});

/** A joiner's request to be admitted. */
export const JOIN_PROMISE: KnownPromise = definePromise({
  text:
    "grid/membership/join/v2: I ask to be admitted to this net. My signed request names the join promise I make, carries my public keys with proof that I hold them and, for a closed net, the invite I was given with proof that I hold its secret; my private keys stay on my machine.",
});

/** The pairwise pre-shared key exchange. */
export const PSK_PROMISE: KnownPromise = definePromise({
  text:
    "grid/membership/psk/v2: I send you a hybrid ML-KEM-768 + X25519 ciphertext for the pre-shared key of our pair. Neither the shared secret nor the key ever travels; I confirm the key only with a derived tag.",
});

/** What the net promises a joiner when it admits it (its hash travels in the join reply). */
export const ADMISSION_TEXT =
  "grid/membership/admission/v1: We, the members of this net, admit you. We will route to your tunnel address only traffic meant for you, keep your public keys and address in our signed records, and drop you only by a signed revoke or your own leave.";
/** Hash of {@link ADMISSION_TEXT}. */
export const ADMISSION_PROMISE: CID = hashText(ADMISSION_TEXT);

/** Most records in one sync reply or push. */
export const MAX_RECORDS_PER_MESSAGE = 512;
/** Most bytes of records in one sync reply or push. */
export const MAX_RECORD_BYTES_PER_MESSAGE = 2 * 1024 * 1024;
/** Most hashes in one summary. */
export const MAX_HASHES_PER_MESSAGE = 8192;
/** Most records a net may hold. */
export const MAX_RECORDS_PER_NET = 8192;

/** The promises a member node accepts for membership. */
export const MEMBERSHIP_PROMISES: readonly KnownPromise[] = [
  SYNC_PROMISE,
  JOIN_PROMISE,
  PSK_PROMISE,
];

/** grid 0.1's membership module text (protocol version 1). */
const LEGACY_MEMBERSHIP_TEXT =
  "grid/module/membership/v1: I keep the signed membership records of the nets this node belongs to. I share them only with live members, keep only records whose signatures verify, and admit joiners only under the net's rules.";
/** grid 0.1's membership module id: messages to it get the version line. */
export const LEGACY_MEMBERSHIP_MODULE: CID = hashText(LEGACY_MEMBERSHIP_TEXT);
/** grid 0.1's membership promises (version 1), accepted only to be answered with the version line. */
export const LEGACY_PROMISES: readonly KnownPromise[] = [
  "grid/membership/sync/v1: I am a member of this net. I send you membership records or the hashes of those I hold; every record I send is one I verified, and I will verify every record you send before I keep it.",
  "grid/membership/join/v1: I ask to be admitted to this net. My signed request names the join promise I make, carries my public keys and, for a closed net, the invite I was given; my private keys stay on my machine.",
  "grid/membership/psk/v1: I send you a hybrid ML-KEM-768 + X25519 ciphertext for the pre-shared key of our pair. Neither the shared secret nor the key ever travels; I confirm the key only with a derived tag.",
].map((text) => definePromise({ text }));
/** What a grid 0.1 node is told. */
export const LEGACY_REFUSAL =
  "This node speaks membership protocol version 2 (grid 0.2); yours speaks version 1 (grid 0.1): upgrade grid on that node";

/**
 * Which records a summary page covers: the ids (text form, in code-point
 * order) after `after` up to and including `upTo`; "" means from the first or
 * to the last. A summary without a range covers every record.
 */
export interface SummaryRange {
  /** Exclusive lower bound ("" from the first id). */
  after: string;
  /** Inclusive upper bound ("" to the last id). */
  upTo: string;
}

/** A summary page: the hashes of the records the sender holds in `range` (default: all). */
export function syncMessage(netId: string, hashes: CID[], range?: SummaryRange): Parms {
  const parms: Parms = [SYNC_PROMISE.cid, MEMBERSHIP_MODULE, "sync", netId, hashes];
  if (range) parms.push(range.after, range.upTo);
  return parms;
}

/** Whether `id` lies in `range`. */
export function inRange(id: string, range: SummaryRange): boolean {
  return id > range.after && (range.upTo === "" || id <= range.upTo);
}

/**
 * Splits sorted ids into summary pages of at most `size` ids that together
 * cover every id (the first page starts at "", the last runs to "").
 */
export function summaryPages(sortedIds: string[], size: number): SummaryRange[] {
  const pages: SummaryRange[] = [];
  for (let i = 0; i < sortedIds.length || pages.length === 0; i += size) {
    const last = i + size >= sortedIds.length;
    pages.push({
      after: i === 0 ? "" : sortedIds[i - 1],
      upTo: last ? "" : sortedIds[i + size - 1],
    });
  }
  return pages;
}

/** The cheap first step of a round: both digests. */
export function checkMessage(netId: string, heads: string, announcements: string): Parms {
  return [SYNC_PROMISE.cid, MEMBERSHIP_MODULE, "check", netId, heads, announcements];
}

/** New records for a member. */
export function pushMessage(netId: string, records: Uint8Array[]): Parms {
  return [SYNC_PROMISE.cid, MEMBERSHIP_MODULE, "push", netId, records];
}

/** A joiner's signed request. */
export function joinMessage(request: Uint8Array): Parms {
  return [JOIN_PROMISE.cid, MEMBERSHIP_MODULE, "join", request];
}

/** This node's latest announcements, for a member. */
export function announceMessage(netId: string, announcements: Uint8Array[]): Parms {
  return [SYNC_PROMISE.cid, MEMBERSHIP_MODULE, "announce", netId, announcements];
}

/** The announcements the sender holds, as `[author, seq]` pairs. */
export function announcementsDigestMessage(netId: string, digest: [string, number][]): Parms {
  return [SYNC_PROMISE.cid, MEMBERSHIP_MODULE, "anns", netId, digest];
}

/** An admin's revoke of the member it is sent to. */
export function revokedMessage(netId: string, record: Uint8Array): Parms {
  return [SYNC_PROMISE.cid, MEMBERSHIP_MODULE, "revoked", netId, record];
}

/** A PSK ciphertext for the pair. */
export function pskMessage(netId: string, cipherText: Uint8Array): Parms {
  return [PSK_PROMISE.cid, MEMBERSHIP_MODULE, "psk", netId, cipherText];
}

/** Takes records up to the per-message bounds. */
export function boundRecords(records: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let bytes = 0;
  for (const r of records) {
    if (out.length >= MAX_RECORDS_PER_MESSAGE || bytes + r.length > MAX_RECORD_BYTES_PER_MESSAGE) {
      break;
    }
    out.push(r);
    bytes += r.length;
  }
  return out;
}
