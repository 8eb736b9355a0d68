/**
 * The member request: what a joiner signs and sends to a member of the net.
 * It binds the joiner's identity key to its WireGuard public key, name and
 * endpoint, names the join promise it makes (by hash), and carries the invite
 * it presents. The admit record embeds it whole, so every node can check that
 * the member asked to join and made the promise.
 *
 * @module
 */
import { type CID, type Identity, nodeIdOf, type Parm } from "../../kernel/mod.ts";
import { openEnvelope, signEnvelope, verifyEnvelope } from "./_signed.ts";
import { Fields } from "./_fields.ts";
import { ENDPOINT, GRID_URL, NET_NAME, NODE_NAME, WG_KEY } from "./patterns.ts";
import { MembershipError } from "./errors.ts";
import { type Invite, MAX_INVITE_BYTES, parseInvite } from "./invite.ts";

/** Signature context of member requests. */
export const REQUEST_CONTEXT = "grid/member-request/v1";
/** Largest encoded member request. */
export const MAX_REQUEST_BYTES = 6 * 1024;
/** Length of a hybrid (ML-KEM-768 + X25519) public key carried for PSKs. */
export const KEM_PUBLIC_KEY_BYTES = 1216;

/** What a joiner asks for. */
export interface MemberRequestFields {
  /** Net id (hash of its genesis record), or "" when joining an open net by URL. */
  net: string;
  /** Net name. */
  netName: string;
  /** The joiner's display name. */
  name: string;
  /** The joiner's WireGuard public key (base64). */
  wg: string;
  /** Where its WireGuard listens, `host:port`, when reachable. */
  endpoint?: string;
  /** Its grid WebSocket URL, when it accepts connections. */
  url?: string;
  /** Its hybrid KEM public key, for nets with pre-shared keys. */
  kem?: Uint8Array;
  /** Hash of the join promise the joiner makes. */
  promise: CID;
  /** Milliseconds since the epoch. */
  time: number;
  /** The invite token's bytes, when it presents one. */
  invite?: Uint8Array;
}

/** What {@link signMemberRequest} takes: the fields, with the invite as bytes. */
export type MemberRequestInput = MemberRequestFields;

/** A verified member request. */
export interface MemberRequest extends Omit<MemberRequestFields, "invite"> {
  /** The invite presented, verified (signature and form; not expiry or uses). */
  readonly invite?: Invite;
  /** The joiner's node id. */
  readonly id: string;
  /** The joiner's Ed25519 public key. */
  readonly key: Uint8Array;
  /** The signed bytes, as sent. */
  readonly bytes: Uint8Array;
}

/** Signs a member request with the joiner's identity. */
export async function signMemberRequest(
  identity: Identity,
  fields: MemberRequestFields,
): Promise<MemberRequest> {
  const body: { [key: string]: Parm } = {
    v: 1,
    net: fields.net,
    netName: fields.netName,
    id: identity.id,
    key: identity.publicKey,
    name: fields.name,
    wg: fields.wg,
    promise: fields.promise,
    time: fields.time,
  };
  if (fields.endpoint !== undefined) body.endpoint = fields.endpoint;
  if (fields.url !== undefined) body.url = fields.url;
  if (fields.kem !== undefined) body.kem = fields.kem;
  if (fields.invite !== undefined) body.invite = fields.invite;
  const bytes = await signEnvelope(identity, REQUEST_CONTEXT, body);
  return await parseMemberRequest(bytes);
}

/** Decodes and verifies a member request: well-formed and signed by the key it names. */
export async function parseMemberRequest(bytes: Uint8Array): Promise<MemberRequest> {
  const envelope = openEnvelope(bytes, "Member request", MAX_REQUEST_BYTES);
  const f = new Fields(envelope.body, "Member request");
  f.only([
    "v",
    "net",
    "netName",
    "id",
    "key",
    "name",
    "wg",
    "endpoint",
    "url",
    "kem",
    "promise",
    "time",
    "invite",
  ]);
  if (f.integer("v") !== 1) throw new MembershipError("Member request has an unknown version");
  const key = f.bytes("key", 32, 32);
  const id = f.string("id", 120);
  if (nodeIdOf(key) !== id) {
    throw new MembershipError("Member request names a key that is not its id");
  }
  if (!(await verifyEnvelope(envelope, REQUEST_CONTEXT, key))) {
    throw new MembershipError(`Member request from "${id}" has a bad signature`);
  }
  const inviteBytes = f.optionalBytes("invite", 1, MAX_INVITE_BYTES);
  return {
    id,
    key,
    bytes,
    net: f.string("net", 120),
    netName: f.string("netName", 32, NET_NAME),
    name: f.string("name", 63, NODE_NAME),
    wg: f.string("wg", 44, WG_KEY),
    endpoint: f.optionalString("endpoint", 260, ENDPOINT),
    url: f.optionalString("url", 460, GRID_URL),
    kem: f.optionalBytes("kem", KEM_PUBLIC_KEY_BYTES, KEM_PUBLIC_KEY_BYTES),
    promise: f.hash("promise"),
    time: f.integer("time"),
    invite: inviteBytes ? await parseInvite(inviteBytes) : undefined,
  };
}
