/**
 * Invite tokens: a capability signed by a member, naming the net, the grid
 * URL(s) to contact, the admin that redeems it, an expiry, a use count, a
 * random nonce, and the public half of a fresh Ed25519 *invite key*. The
 * token is one line, `grid2.` + base64url(CBOR {i: signed invite, s: invite
 * key seed}): the seed is the bearer secret, and only the joiner holding it
 * can sign a member request with the invite key. Records keep the signed
 * invite (public) and that proof, never the seed, so nobody can redeem an
 * invite out of the records.
 *
 * Uses are counted by the one admin the invite names: it signs every admit
 * under it, one after another, so the count is causal and the same on every
 * node (the fold counts admits per invite id in record order).
 *
 * @module
 */
import {
  decodeValue,
  encodeValue,
  hashBytes,
  hashToText,
  type Identity,
  nodeIdOf,
  type Parm,
  verifySignature,
} from "../../kernel/mod.ts";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  checkVersion,
  FORMAT_VERSION,
  isMap,
  openEnvelope,
  signedBytes,
  signEnvelope,
  verifyEnvelope,
} from "./_signed.ts";
import { Fields } from "./_fields.ts";
import { GRID_URL, NET_NAME } from "./patterns.ts";
import { MembershipError } from "./errors.ts";

/** Signature context of invites. */
export const INVITE_CONTEXT = "grid/invite/v2";
/** Signature context of a member request signed with an invite key. */
export const INVITE_PROOF_CONTEXT = "grid/invite-proof/v2";
/** The text prefix of a token. */
export const TOKEN_PREFIX = "grid2.";
/** The prefix of grid 0.1's tokens (format version 1), refused with a clear line. */
const V1_PREFIX = "grid1.";
/** Largest signed invite in bytes. */
export const MAX_INVITE_BYTES = 2048;
/** Most uses one invite may grant. */
export const MAX_INVITE_USES = 1000;
/** Longest an invite may live: one year. */
export const MAX_INVITE_TTL_MS = 365 * 24 * 3600 * 1000;
/** Default lifetime of an invite: one day. */
export const DEFAULT_INVITE_TTL_MS = 24 * 3600 * 1000;

/** A verified invite: its public, signed part (what records carry). */
export interface Invite {
  /** Net id (hash of the genesis record). */
  readonly net: string;
  /** Net name. */
  readonly netName: string;
  /** Grid URLs to contact to join. */
  readonly urls: string[];
  /** Expiry, milliseconds since the epoch. */
  readonly exp: number;
  /** How many joins it admits. */
  readonly uses: number;
  /** Random nonce, hex. */
  readonly nonce: string;
  /** The inviter's node id. */
  readonly by: string;
  /** The node id of the admin that redeems it (signs the admits). */
  readonly admin: string;
  /** The invite key's public half (Ed25519). */
  readonly inviteKey: Uint8Array;
  /** The signed bytes. */
  readonly bytes: Uint8Array;
  /** Hash of the bytes (text): names the invite, and its uses are counted by it. */
  readonly id: string;
  /** Key used to count uses across the net (the invite's id). */
  readonly useKey: string;
}

/** An invite with its bearer secret: what the inviter hands out and the joiner holds. */
export interface InviteToken {
  /** The public, signed invite. */
  readonly invite: Invite;
  /** The invite key's seed (the bearer secret; never in a record). */
  readonly seed: Uint8Array;
  /** The one-line token. */
  readonly token: string;
}

/** Options for {@link createInvite}. */
export interface CreateInviteOptions {
  /** Net id. */
  net: string;
  /** Net name. */
  netName: string;
  /** Bootstrap URLs (at least one). */
  urls: string[];
  /** The admin that redeems it (default: the inviter itself). */
  admin?: string;
  /** Lifetime in milliseconds (default one day). */
  ttlMs?: number;
  /** Uses (default 1). */
  uses?: number;
  /** The current time (default now). */
  now?: number;
}

/** Signs a new invite with the inviter's identity; returns it with its token. */
export async function createInvite(
  identity: Identity,
  options: CreateInviteOptions,
): Promise<InviteToken> {
  const ttl = options.ttlMs ?? DEFAULT_INVITE_TTL_MS;
  const uses = options.uses ?? 1;
  if (!(ttl > 0 && ttl <= MAX_INVITE_TTL_MS)) {
    throw new MembershipError("Invite lifetime must be between 1 second and 365 days");
  }
  if (!Number.isSafeInteger(uses) || uses < 1 || uses > MAX_INVITE_USES) {
    throw new MembershipError(`Invite uses must be a whole number from 1 to ${MAX_INVITE_USES}`);
  }
  if (options.urls.length === 0) {
    throw new MembershipError(
      "Cannot make an invite without a URL to contact: run grid serve --advertise ws://HOST:PORT",
    );
  }
  const seed = ed25519.utils.randomSecretKey();
  const body: { [key: string]: Parm } = {
    v: FORMAT_VERSION,
    net: options.net,
    netName: options.netName,
    urls: options.urls,
    exp: Math.floor((options.now ?? Date.now()) + ttl),
    uses,
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    by: identity.id,
    key: identity.publicKey,
    admin: options.admin ?? identity.id,
    inviteKey: ed25519.getPublicKey(seed),
  };
  const invite = await parseInvite(await signEnvelope(identity, INVITE_CONTEXT, body));
  return { invite, seed, token: tokenOf(invite.bytes, seed) };
}

function tokenOf(bytes: Uint8Array, seed: Uint8Array): string {
  return TOKEN_PREFIX +
    encodeValue({ i: bytes, s: seed }).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Decodes a signed invite and verifies its form and signature; refuses forgeries. */
export async function parseInvite(bytes: Uint8Array): Promise<Invite> {
  const envelope = openEnvelope(bytes, "Invite", MAX_INVITE_BYTES);
  const f = new Fields(envelope.body, "Invite");
  checkVersion(envelope.body.v, "The invite");
  f.only([
    "v",
    "net",
    "netName",
    "urls",
    "exp",
    "uses",
    "nonce",
    "by",
    "key",
    "admin",
    "inviteKey",
  ]);
  const key = f.bytes("key", 32, 32);
  const by = f.string("by", 120);
  if (nodeIdOf(key) !== by) throw new MembershipError("Invite is forged: key and inviter differ");
  if (!(await verifyEnvelope(envelope, INVITE_CONTEXT, key))) {
    throw new MembershipError("Invite is forged: its signature does not verify");
  }
  const urls = f.strings("urls", 8, 460);
  if (urls.length === 0 || !urls.every((u) => GRID_URL.test(u))) {
    throw new MembershipError("Invite is malformed: it needs grid URLs to contact");
  }
  const uses = f.integer("uses");
  if (uses < 1 || uses > MAX_INVITE_USES) {
    throw new MembershipError(
      `Invite is malformed: uses "${uses}" is not from 1 to ${MAX_INVITE_USES}`,
    );
  }
  const id = hashToText(hashBytes(bytes));
  return {
    net: f.string("net", 120),
    netName: f.string("netName", 32, NET_NAME),
    urls,
    exp: f.integer("exp"),
    uses,
    nonce: f.bytes("nonce", 16, 16).toHex(),
    by,
    admin: f.string("admin", 120),
    inviteKey: f.bytes("inviteKey", 32, 32),
    bytes,
    id,
    useKey: id,
  };
}

/** Decodes a one-line token: the signed invite and its seed, which must match its invite key. */
export async function parseInviteToken(text: string): Promise<InviteToken> {
  const trimmed = text.trim();
  if (trimmed.startsWith(V1_PREFIX)) checkVersion(1, "The invite");
  if (!trimmed.startsWith(TOKEN_PREFIX) || trimmed.length > MAX_INVITE_BYTES * 2) {
    throw new MembershipError(`Invalid invite: a token starts with "${TOKEN_PREFIX}"`);
  }
  let outer: unknown;
  try {
    const bytes = Uint8Array.fromBase64(trimmed.slice(TOKEN_PREFIX.length), {
      alphabet: "base64url",
    });
    outer = decodeValue(bytes, { maxBytes: MAX_INVITE_BYTES + 64, maxDepth: 2 });
  } catch (err) {
    throw new MembershipError("Invalid invite: the token is not base64url CBOR", { cause: err });
  }
  if (
    !isMap(outer) || Object.keys(outer).length !== 2 || !(outer.i instanceof Uint8Array) ||
    !(outer.s instanceof Uint8Array) || outer.s.length !== 32
  ) {
    throw new MembershipError("Invalid invite: the token is malformed");
  }
  const invite = await parseInvite(outer.i);
  if (!sameBytes(ed25519.getPublicKey(outer.s), invite.inviteKey)) {
    throw new MembershipError("Invalid invite: its secret does not match its invite key");
  }
  return { invite, seed: outer.s, token: trimmed };
}

/** Signs `body` (a member request's signed bytes) with the invite key: the joiner's proof. */
export function signWithInvite(seed: Uint8Array, body: Uint8Array): Uint8Array {
  return ed25519.sign(signedBytes(INVITE_PROOF_CONTEXT, body), seed);
}

/** True when `proof` is the invite key's signature of `body`. */
export async function verifyInviteProof(
  invite: Invite,
  body: Uint8Array,
  proof: Uint8Array,
): Promise<boolean> {
  return await verifySignature(invite.inviteKey, proof, signedBytes(INVITE_PROOF_CONTEXT, body));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What {@link checkInvite} needs to know about the net. */
export interface InviteContext {
  /** The net's id. */
  netId: string;
  /** The admin checking it (it must be the invite's admin). */
  selfId: string;
  /** Why the inviter may not invite now (not a live member, no invite right), or undefined. */
  inviterProblem(id: string): string | undefined;
  /** How many admits already used the invite with this use key. */
  usesOf(useKey: string): number;
  /** The time to judge expiry at (milliseconds). */
  now: number;
}

/** Refuses an invite that is for another net or admin, by a non-member, expired or used up. */
export function checkInvite(invite: Invite, context: InviteContext): void {
  if (invite.net !== context.netId) {
    throw new MembershipError(
      `Invite is for another net than "${invite.netName}" (${context.netId})`,
    );
  }
  if (invite.admin !== context.selfId) {
    throw new MembershipError(`Invite names another admin ("${invite.admin}") to redeem it`);
  }
  const problem = context.inviterProblem(invite.by);
  if (problem) throw new MembershipError(`Invite was made by "${invite.by}", who ${problem}`);
  if (context.now > invite.exp) {
    throw new MembershipError(`Invite expired at ${isoSeconds(invite.exp)}`);
  }
  const used = context.usesOf(invite.useKey);
  if (used >= invite.uses) {
    throw new MembershipError(`Invite is used up (${used} of ${invite.uses} uses)`);
  }
}

/** ISO 8601 time without milliseconds, e.g. `2026-11-27T13:00:00Z`. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Parses a duration such as `90s`, `30m`, `12h`, `7d` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([0-9]{1,6})(s|m|h|d)$/.exec(text);
  if (!match) {
    throw new MembershipError(
      `Invalid duration "${text.slice(0, 20)}": use e.g. 90s, 30m, 12h, 7d`,
    );
  }
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s"];
  return Number(match[1]) * unit;
}

/**
 * {@link parseInviteToken}, then refuses an invite for a net other than
 * `netName` or one expired at `now`: everything a joiner can check on its own.
 */
export async function checkInviteFor(
  token: string,
  netName: string,
  now: number = Date.now(),
): Promise<InviteToken> {
  const parsed = await parseInviteToken(token);
  const invite = parsed.invite;
  if (invite.netName !== netName) {
    throw new MembershipError(`The invite is for net "${invite.netName}", not "${netName}"`);
  }
  if (now > invite.exp) {
    throw new MembershipError(`Invite expired at ${isoSeconds(invite.exp)}`);
  }
  return parsed;
}
