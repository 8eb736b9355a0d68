/**
 * Invite tokens: a capability signed by a member, naming the net, the grid
 * URL(s) to contact (the inviter's `--advertise` URL), an expiry, a use count
 * and a random nonce. Printed as one line, `grid1.` + base64url(CBOR).
 *
 * Uses are counted across the whole net: every admit record embeds the
 * joiner's request, which embeds the invite, so every node counts the admits
 * made under the same invite (inviter id + nonce) in the canonical record
 * order; the admits beyond the invite's use count are void everywhere.
 *
 * @module
 */
import { hashBytes, hashToText, type Identity, nodeIdOf, type Parm } from "../../kernel/mod.ts";
import { openEnvelope, signEnvelope, verifyEnvelope } from "./_signed.ts";
import { Fields } from "./_fields.ts";
import { GRID_URL, NET_NAME } from "./patterns.ts";
import { MembershipError } from "./errors.ts";

/** Signature context of invites. */
export const INVITE_CONTEXT = "grid/invite/v1";
/** The text prefix of a token. */
export const TOKEN_PREFIX = "grid1.";
/** Largest invite in bytes. */
export const MAX_INVITE_BYTES = 2048;
/** Most uses one invite may grant. */
export const MAX_INVITE_USES = 1000;
/** Longest an invite may live: one year. */
export const MAX_INVITE_TTL_MS = 365 * 24 * 3600 * 1000;
/** Default lifetime of an invite: one day. */
export const DEFAULT_INVITE_TTL_MS = 24 * 3600 * 1000;

/** A verified invite. */
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
  /** Key used to count uses across the net: `by/nonce`. */
  readonly useKey: string;
  /** The signed bytes. */
  readonly bytes: Uint8Array;
  /** The one-line token. */
  readonly token: string;
  /** Hash of the bytes (text). */
  readonly id: string;
}

/** Options for {@link createInvite}. */
export interface CreateInviteOptions {
  /** Net id. */
  net: string;
  /** Net name. */
  netName: string;
  /** Bootstrap URLs (at least one). */
  urls: string[];
  /** Lifetime in milliseconds (default one day). */
  ttlMs?: number;
  /** Uses (default 1). */
  uses?: number;
  /** The current time (default now). */
  now?: number;
}

/** Signs a new invite with the inviter's identity. */
export async function createInvite(
  identity: Identity,
  options: CreateInviteOptions,
): Promise<Invite> {
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
  const body: { [key: string]: Parm } = {
    v: 1,
    net: options.net,
    netName: options.netName,
    urls: options.urls,
    exp: Math.floor((options.now ?? Date.now()) + ttl),
    uses,
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    by: identity.id,
    key: identity.publicKey,
  };
  return await parseInvite(await signEnvelope(identity, INVITE_CONTEXT, body));
}

/** Decodes a token (text or bytes) and verifies its form and signature; refuses forgeries. */
export async function parseInvite(token: string | Uint8Array): Promise<Invite> {
  let bytes: Uint8Array;
  if (typeof token === "string") {
    const text = token.trim();
    if (!text.startsWith(TOKEN_PREFIX) || text.length > MAX_INVITE_BYTES * 2) {
      throw new MembershipError(`Invalid invite: a token starts with "${TOKEN_PREFIX}"`);
    }
    try {
      bytes = Uint8Array.fromBase64(text.slice(TOKEN_PREFIX.length), { alphabet: "base64url" });
    } catch (err) {
      throw new MembershipError("Invalid invite: the token is not base64url", { cause: err });
    }
  } else {
    bytes = token;
  }
  const envelope = openEnvelope(bytes, "Invite", MAX_INVITE_BYTES);
  const f = new Fields(envelope.body, "Invite");
  f.only(["v", "net", "netName", "urls", "exp", "uses", "nonce", "by", "key"]);
  if (f.integer("v") !== 1) throw new MembershipError("Invite has an unknown version");
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
  const nonce = f.bytes("nonce", 16, 16).toHex();
  return {
    net: f.string("net", 120),
    netName: f.string("netName", 32, NET_NAME),
    urls,
    exp: f.integer("exp"),
    uses,
    nonce,
    by,
    useKey: `${by}/${nonce}`,
    bytes,
    token: TOKEN_PREFIX + bytes.toBase64({ alphabet: "base64url", omitPadding: true }),
    id: hashToText(hashBytes(bytes)),
  };
}

/** What {@link checkInvite} needs to know about the net. */
export interface InviteContext {
  /** The net's id. */
  netId: string;
  /** Whether a node is a live member right now. */
  isLiveMember(id: string): boolean;
  /** How many admits already used the invite with this use key. */
  usesOf(useKey: string): number;
  /** The time to judge expiry at (milliseconds). */
  now: number;
}

/** Refuses an invite that is for another net, by a non-member, expired or used up. */
export function checkInvite(invite: Invite, context: InviteContext): void {
  if (invite.net !== context.netId) {
    throw new MembershipError(
      `Invite is for another net than "${invite.netName}" (${context.netId})`,
    );
  }
  if (!context.isLiveMember(invite.by)) {
    throw new MembershipError(`Invite was made by "${invite.by}", who is not a live member`);
  }
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
 * {@link parseInvite}, then refuses an invite for a net other than `netName`
 * or one expired at `now`: everything a joiner can check on its own.
 */
export async function checkInviteFor(
  token: string,
  netName: string,
  now: number = Date.now(),
): Promise<Invite> {
  const invite = await parseInvite(token);
  if (invite.netName !== netName) {
    throw new MembershipError(`The invite is for net "${invite.netName}", not "${netName}"`);
  }
  if (now > invite.exp) {
    throw new MembershipError(`Invite expired at ${isoSeconds(invite.exp)}`);
  }
  return invite;
}
