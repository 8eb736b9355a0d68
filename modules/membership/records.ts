/**
 * Membership records: signed, content-addressed facts about a net. A record
 * is `{body, sig}` in CBOR; its hash (a DAG-CBOR CIDv1 of those bytes) is its
 * name. Each record names its parents by hash, so the records of a net form a
 * DAG rooted at the genesis record, whose hash is the net's id.
 *
 * Kinds, and who may sign them (the fold enforces it; see member_set.ts):
 * `genesis` (the founder: name, CIDR, policy, PSK on/off, who may invite),
 * `admit` (an admin: the joiner's signed request and its address), `left`
 * (a member, about itself), `revoked` (an admin, about a plain member; the
 * founder, about an admin), `role` (the founder: grants or removes an
 * admin, with the address slice it allocates from).
 *
 * {@link parseRecord} checks form and signature: records carry the author's
 * public key and the node id is its hash, so signatures verify on their own.
 * Whether the author had the right to sign it is the fold's job.
 *
 * @module
 */
import {
  CID,
  DAG_CBOR,
  hashBytes,
  hashToText,
  type Identity,
  nodeIdOf,
  type Parm,
} from "../../kernel/mod.ts";
import {
  checkVersion,
  FORMAT_VERSION,
  openEnvelope,
  signEnvelope,
  verifyEnvelope,
} from "./_signed.ts";
import { Fields } from "./_fields.ts";
import { NET_NAME } from "./patterns.ts";
import { type MemberRequest, parseMemberRequest } from "./member_request.ts";
import { MAX_REQUEST_BYTES } from "./member_request.ts";
import { MembershipError } from "./errors.ts";

/** Signature context of records. */
export const RECORD_CONTEXT = "grid/membership-record/v2";
/** Largest encoded record. */
export const MAX_RECORD_BYTES = 8 * 1024;
/** Most parents one record may name. */
export const MAX_PARENTS = 64;

/** Admission policy of a net. */
export type NetPolicy = "open" | "invite";
/** Who may sign invites: the admins only, or every live member. */
export type InvitePolicy = "admins" | "members";
/** What a `role` record makes a member. */
export type Role = "admin" | "member";

/** The fields every record has. */
export interface RecordBase {
  /** The record's hash. */
  readonly hash: CID;
  /** The hash as text. */
  readonly id: string;
  /** The signed bytes. */
  readonly bytes: Uint8Array;
  /** Net id: the genesis hash (a genesis record's own id). */
  readonly net: string;
  /** Author's node id. */
  readonly author: string;
  /** Author's Ed25519 public key. */
  readonly key: Uint8Array;
  /** Author's clock, milliseconds since the epoch. */
  readonly time: number;
  /** Parent hashes (text), sorted. */
  readonly parents: string[];
}

/** The record that founds a net. */
export interface GenesisRecord extends RecordBase {
  /** Record kind. */
  readonly kind: "genesis";
  /** Net name. */
  readonly name: string;
  /** Address block. */
  readonly cidr: string;
  /** Open, or invite only. */
  readonly policy: NetPolicy;
  /** Pairwise pre-shared keys on or off. */
  readonly psk: boolean;
  /** Who may sign invites. */
  readonly invite: InvitePolicy;
}

/** An admin admits a joiner at an address. */
export interface AdmitRecord extends RecordBase {
  /** Record kind. */
  readonly kind: "admit";
  /** The joiner's signed request (its keys, name, endpoint, promise, invite and proofs). */
  readonly request: MemberRequest;
  /** The tunnel address the admin allocated from its slice. */
  readonly address: string;
}

/** A member leaves. */
export interface LeftRecord extends RecordBase {
  /** Record kind. */
  readonly kind: "left";
}

/** An admin revokes a member. */
export interface RevokedRecord extends RecordBase {
  /** Record kind. */
  readonly kind: "revoked";
  /** Node id of the revoked member. */
  readonly member: string;
  /** Id of the revoked member's admit (it must be among the revoke's ancestors). */
  readonly admit: string;
  /** Also revoke every member this one invited, and whom they invited, and so on. */
  readonly lineage: boolean;
  /** Why, in a few words. */
  readonly reason?: string;
}

/** The founder grants or removes admin rights. */
export interface RoleRecord extends RecordBase {
  /** Record kind. */
  readonly kind: "role";
  /** Node id of the member. */
  readonly member: string;
  /** Id of that member's admit (it must be among the record's ancestors). */
  readonly admit: string;
  /** What it becomes. */
  readonly role: Role;
  /** For an admin: the address block (inside the net's) it allocates from. */
  readonly slice?: string;
}

/** Any membership record. */
export type MemberRecord =
  | GenesisRecord
  | AdmitRecord
  | LeftRecord
  | RevokedRecord
  | RoleRecord;

/** The kind-specific fields of a new record. */
export type RecordDraft =
  | {
    kind: "genesis";
    name: string;
    cidr: string;
    policy: NetPolicy;
    psk: boolean;
    invite: InvitePolicy;
  }
  | { kind: "admit"; request: MemberRequest; address: string }
  | { kind: "left" }
  | { kind: "revoked"; member: string; admit: string; lineage?: boolean; reason?: string }
  | { kind: "role"; member: string; admit: string; role: Role; slice?: string };

/** Options for {@link signRecord}. */
export interface SignRecordOptions {
  /** Net id (not for genesis). */
  net?: string;
  /** Parent hashes (not for genesis). */
  parents?: string[];
  /** Clock (default now). */
  time?: number;
}

/** Signs a new record as `identity`. */
export async function signRecord(
  identity: Identity,
  draft: RecordDraft,
  options: SignRecordOptions = {},
): Promise<MemberRecord> {
  const body: { [key: string]: Parm } = {
    v: FORMAT_VERSION,
    kind: draft.kind,
    author: identity.id,
    key: identity.publicKey,
    time: Math.floor(options.time ?? Date.now()),
    parents: [...new Set(options.parents ?? [])].sort().map((p) => CID.parse(p)),
  };
  if (draft.kind !== "genesis") {
    if (!options.net) throw new MembershipError("A record needs its net id");
    body.net = options.net;
  }
  switch (draft.kind) {
    case "genesis":
      Object.assign(body, {
        name: draft.name,
        cidr: draft.cidr,
        policy: draft.policy,
        psk: draft.psk,
        invite: draft.invite,
        nonce: crypto.getRandomValues(new Uint8Array(16)),
      });
      break;
    case "admit":
      Object.assign(body, { request: draft.request.bytes, address: draft.address });
      break;
    case "revoked":
      Object.assign(body, {
        member: draft.member,
        admit: CID.parse(draft.admit),
        lineage: draft.lineage === true,
      });
      if (draft.reason !== undefined) body.reason = draft.reason;
      break;
    case "role":
      Object.assign(body, {
        member: draft.member,
        admit: CID.parse(draft.admit),
        role: draft.role,
      });
      if (draft.slice !== undefined) body.slice = draft.slice;
      break;
  }
  return await parseRecord(await signEnvelope(identity, RECORD_CONTEXT, body));
}

/** The hash of a record's bytes. */
export function recordHash(bytes: Uint8Array): CID {
  return hashBytes(bytes, DAG_CBOR);
}

const COMMON = ["v", "kind", "net", "author", "key", "time", "parents"];
const EXTRA: Record<string, string[]> = {
  genesis: ["name", "cidr", "policy", "psk", "invite", "nonce"],
  admit: ["request", "address"],
  left: [],
  revoked: ["member", "admit", "lineage", "reason"],
  role: ["member", "admit", "role", "slice"],
};
const CIDR_TEXT = /^[0-9]{1,3}(\.[0-9]{1,3}){3}\/[0-9]{1,2}$/;
const IPV4 = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;

/**
 * Decodes and checks a record: form, size, signature by the key it carries,
 * and (when `net` is given) that it belongs to that net. Throws
 * {@link MembershipError} for anything else.
 */
export async function parseRecord(bytes: Uint8Array, net?: string): Promise<MemberRecord> {
  const envelope = openEnvelope(bytes, "Record", MAX_RECORD_BYTES);
  checkVersion(envelope.body.v, "The record");
  const f = new Fields(envelope.body, "Record");
  const kind = f.string("kind", 16);
  if (!Object.hasOwn(EXTRA, kind)) throw new MembershipError(`Record has unknown kind "${kind}"`);
  f.only([...COMMON, ...EXTRA[kind]]);
  const key = f.bytes("key", 32, 32);
  const author = f.string("author", 120);
  if (nodeIdOf(key) !== author) {
    throw new MembershipError("Record names a key that is not its author's");
  }
  if (!(await verifyEnvelope(envelope, RECORD_CONTEXT, key))) {
    throw new MembershipError(`Record by "${author}" has a bad signature`);
  }
  const hash = recordHash(bytes);
  const id = hashToText(hash);
  const parents = f.hashes("parents", MAX_PARENTS).map(hashToText);
  const sorted = [...new Set(parents)].sort();
  if (sorted.join() !== parents.join()) {
    throw new MembershipError("Record is malformed: parents must be sorted and distinct");
  }
  const base = { hash, id, bytes, author, key, time: f.integer("time"), parents };
  let record: MemberRecord;
  if (kind === "genesis") {
    if (f.has("net") || parents.length > 0) {
      throw new MembershipError("Record is malformed: a genesis has no net and no parents");
    }
    f.bytes("nonce", 16, 16);
    const policy = f.string("policy", 8);
    if (policy !== "open" && policy !== "invite") {
      throw new MembershipError(`Record is malformed: unknown policy "${policy}"`);
    }
    const invite = f.string("invite", 8);
    if (invite !== "admins" && invite !== "members") {
      throw new MembershipError(`Record is malformed: unknown invite policy "${invite}"`);
    }
    record = {
      ...base,
      kind,
      net: id,
      name: f.string("name", 32, NET_NAME),
      cidr: f.string("cidr", 18, CIDR_TEXT),
      policy,
      psk: f.boolean("psk"),
      invite,
    };
  } else {
    const common = { ...base, net: f.string("net", 120) };
    if (parents.length === 0) throw new MembershipError("Record is malformed: it has no parents");
    switch (kind) {
      case "admit": {
        const request = await parseMemberRequest(f.bytes("request", 1, MAX_REQUEST_BYTES));
        record = { ...common, kind, request, address: f.string("address", 15, IPV4) };
        break;
      }
      case "left":
        record = { ...common, kind };
        break;
      case "revoked":
        record = {
          ...common,
          kind,
          member: f.string("member", 120),
          admit: hashToText(f.hash("admit")),
          lineage: f.boolean("lineage"),
          reason: f.optionalString("reason", 200),
        };
        break;
      default: {
        const role = f.string("role", 8);
        if (role !== "admin" && role !== "member") {
          throw new MembershipError(`Record is malformed: unknown role "${role}"`);
        }
        const slice = f.optionalString("slice", 18, CIDR_TEXT);
        if ((role === "admin") !== (slice !== undefined)) {
          throw new MembershipError(
            "Record is malformed: an admin grant names its slice, and only it",
          );
        }
        record = {
          ...common,
          kind: "role",
          member: f.string("member", 120),
          admit: hashToText(f.hash("admit")),
          role,
          slice,
        };
      }
    }
  }
  if (net !== undefined && record.net !== net) {
    throw new MembershipError(`Record "${id}" belongs to another net`);
  }
  return record;
}
