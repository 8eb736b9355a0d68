/**
 * The member request: what a joiner signs and sends to a member of the net.
 * It binds the joiner's identity key to its WireGuard public key, name and
 * endpoint, names the join promise it makes (by hash), and carries the
 * (public) invite it presents. Beside the identity's signature it carries two
 * proofs over the same bytes: one by the WireGuard key (XEdDSA), so nobody
 * can claim another node's WireGuard key, and one by the invite key, so only
 * a holder of the invite's secret can use it. The admit record embeds the
 * request whole, so every node checks all three.
 *
 * @module
 */
import {
  type CID,
  hashBytes,
  hashToText,
  type Identity,
  nodeIdOf,
  type Parm,
} from "../../kernel/mod.ts";
import { verifyWgSignature } from "../wireguard/mod.ts";
import {
  checkVersion,
  FORMAT_VERSION,
  openEnvelope,
  signedBytes,
  signEnvelope,
  verifyEnvelope,
} from "./_signed.ts";
import { Fields } from "./_fields.ts";
import { ENDPOINT, GRID_URL, NET_NAME, NODE_NAME, WG_KEY } from "./patterns.ts";
import { MembershipError } from "./errors.ts";
import {
  type Invite,
  MAX_INVITE_BYTES,
  parseInvite,
  signWithInvite,
  verifyInviteProof,
} from "./invite.ts";

/** Signature context of member requests. */
export const REQUEST_CONTEXT = "grid/member-request/v2";
/** Signature context of the WireGuard key's proof over a member request. */
export const WG_PROOF_CONTEXT = "grid/wg-key-proof/v2";
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
}

/** The keys a joiner proves it holds, besides its identity. */
export interface RequestProofs {
  /** Signs bytes with the WireGuard private key (XEdDSA); the key never leaves the node. */
  signWithWgKey(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** The invite presented (its signed, public part) and its secret seed. */
  invite?: { bytes: Uint8Array; seed: Uint8Array };
}

/** A verified member request. */
export interface MemberRequest extends MemberRequestFields {
  /** The invite presented, verified (signature, form, and the joiner's proof of its secret). */
  readonly invite?: Invite;
  /** The joiner's node id. */
  readonly id: string;
  /** The joiner's Ed25519 public key. */
  readonly key: Uint8Array;
  /** The signed bytes, as sent. */
  readonly bytes: Uint8Array;
  /** Hash (text) of the signed bytes: an admit may use a request once. */
  readonly hash: string;
}

/** Signs a member request with the joiner's identity, its WireGuard key and the invite key. */
export async function signMemberRequest(
  identity: Identity,
  fields: MemberRequestFields,
  proofs: RequestProofs,
): Promise<MemberRequest> {
  const body: { [key: string]: Parm } = {
    v: FORMAT_VERSION,
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
  if (proofs.invite !== undefined) body.invite = proofs.invite.bytes;
  const invite = proofs.invite;
  const bytes = await signEnvelope(identity, REQUEST_CONTEXT, body, {
    wgSig: (b) => proofs.signWithWgKey(signedBytes(WG_PROOF_CONTEXT, b)),
    ...(invite ? { inviteSig: (b: Uint8Array) => signWithInvite(invite.seed, b) } : {}),
  });
  return await parseMemberRequest(bytes);
}

/** Decodes and verifies a member request: well-formed and signed by the key it names. */
export async function parseMemberRequest(bytes: Uint8Array): Promise<MemberRequest> {
  const envelope = openEnvelope(bytes, "Member request", MAX_REQUEST_BYTES, [
    "wgSig",
    "inviteSig",
  ]);
  checkVersion(envelope.body.v, "The member request");
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
  const key = f.bytes("key", 32, 32);
  const id = f.string("id", 120);
  if (nodeIdOf(key) !== id) {
    throw new MembershipError("Member request names a key that is not its id");
  }
  if (!(await verifyEnvelope(envelope, REQUEST_CONTEXT, key))) {
    throw new MembershipError(`Member request from "${id}" has a bad signature`);
  }
  const wg = f.string("wg", 44, WG_KEY);
  const wgSig = envelope.proofs.wgSig;
  if (
    !wgSig || !await verifyWgSignature(wg, signedBytes(WG_PROOF_CONTEXT, envelope.bodyBytes), wgSig)
  ) {
    throw new MembershipError(
      `Member request from "${id}" does not prove it holds the WireGuard key it names`,
    );
  }
  const inviteBytes = f.optionalBytes("invite", 1, MAX_INVITE_BYTES);
  const invite = inviteBytes ? await parseInvite(inviteBytes) : undefined;
  if (invite) {
    const proof = envelope.proofs.inviteSig;
    if (!proof || !await verifyInviteProof(invite, envelope.bodyBytes, proof)) {
      throw new MembershipError(
        `Member request from "${id}" does not prove it holds the invite's secret`,
      );
    }
  } else if (envelope.proofs.inviteSig) {
    throw new MembershipError("Member request is malformed: an invite proof with no invite");
  }
  return {
    id,
    key,
    bytes,
    hash: hashToText(hashBytes(bytes)),
    net: f.string("net", 120),
    netName: f.string("netName", 32, NET_NAME),
    name: f.string("name", 63, NODE_NAME),
    wg,
    endpoint: f.optionalString("endpoint", 260, ENDPOINT),
    url: f.optionalString("url", 460, GRID_URL),
    kem: f.optionalBytes("kem", KEM_PUBLIC_KEY_BYTES, KEM_PUBLIC_KEY_BYTES),
    promise: f.hash("promise"),
    time: f.integer("time"),
    invite,
  };
}
