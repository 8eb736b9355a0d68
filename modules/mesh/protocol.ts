/**
 * The mesh control protocol: what a command asks the mesh service for and
 * what it answers, one request and one result type per operation, each with
 * the {@link Shape} that reads it off the wire. Requests are read once at the
 * control edge (the mesh control module) and results once at the client
 * ({@link MeshClient}); everything between works on these types. `grid status
 * --json` prints a {@link StatusReport} as it is.
 *
 * Also here: the promise a joiner makes, which every admit carries by hash.
 *
 * @module
 */
import {
  bool,
  hashText,
  list,
  nullable,
  oneOf,
  optional,
  record,
  type Shape,
  text,
  whole,
} from "../../kernel/mod.ts";

/** The promise a joiner makes; its hash travels in the signed member request. */
export const JOIN_PROMISE_TEXT =
  "I promise to use the public keys, endpoints and tunnel addresses I receive from this WireGuard net only to connect to its members, and not to abuse the net or its members. I will generate my own private key on this machine and never send it to anyone. In return I ask the net to admit me and give me a tunnel address.";
/** Hash (text) of {@link JOIN_PROMISE_TEXT}: what joiners' requests name and admitters check. */
export const JOIN_PROMISE_HASH: string = hashText(JOIN_PROMISE_TEXT).toString();

const NAME = text(64);
const PORT = whole(1, 65535);
const ENDPOINT = text(260);
const ID = text(120);

/** `create`: found a net with this node as its first member. */
export interface CreateRequest {
  /** Net name. */
  name: string;
  /** Address block (default `10.77.0.0/16`). */
  cidr?: string;
  /** Open net: joiners need no invite. */
  open?: boolean;
  /** Pairwise pre-shared keys. */
  psk?: boolean;
  /** Who may sign invites (default: every member). */
  inviteBy?: "admins" | "members";
  /** WireGuard interface name (default `grid-NAME`). */
  interface?: string;
  /** WireGuard UDP port (default: the first free one from 51820). */
  listenPort?: number;
  /** This node's WireGuard endpoint, `HOST:PORT`. */
  endpoint?: string;
  /** This node's name in the net (default: its hostname). */
  nodeName?: string;
}
/** Reads a {@link CreateRequest}. */
export const CREATE_REQUEST: Shape<CreateRequest> = record({
  name: NAME,
  cidr: optional(text(64)),
  open: optional(bool),
  psk: optional(bool),
  inviteBy: optional(oneOf(["admins", "members"] as const)),
  interface: optional(text(64)),
  listenPort: optional(PORT),
  endpoint: optional(ENDPOINT),
  nodeName: optional(text(64)),
});

/** What `create` made. */
export interface CreateResult {
  /** Net name. */
  name: string;
  /** Net id (hash of the genesis record). */
  net: string;
  /** This node's tunnel address. */
  address: string;
  /** This node's IPv6 tunnel address (absent from an older agent). */
  address6?: string;
  /** The WireGuard interface. */
  interface: string;
  /** The address block. */
  cidr: string;
  /** The WireGuard UDP port. */
  listenPort: number;
}
/** Reads a {@link CreateResult}. */
export const CREATE_RESULT: Shape<CreateResult> = record({
  name: NAME,
  net: ID,
  address: text(64),
  address6: optional(text(64)),
  interface: text(64),
  cidr: text(64),
  listenPort: PORT,
});

/** `invite`: a one-line token for a net. */
export interface InviteRequest {
  /** Net name. */
  name: string;
  /** Lifetime in milliseconds. */
  ttlMs?: number;
  /** How many joins it admits. */
  uses?: number;
  /** The grid URL joiners contact (default: this agent's `--advertise`). */
  url?: string;
  /** The admin that redeems it: node id, name or tunnel address (default: chosen here). */
  admin?: string;
}
/** Reads an {@link InviteRequest}. */
export const INVITE_REQUEST: Shape<InviteRequest> = record({
  name: NAME,
  ttlMs: optional(whole(1)),
  uses: optional(whole(1)),
  url: optional(text(512)),
  admin: optional(text(120)),
});

/** The invite made. */
export interface InviteResult {
  /** The token, `grid1.…`. */
  token: string;
  /** Expiry, ISO 8601. */
  expires: string;
  /** How many joins it admits. */
  uses: number;
  /** The admin that redeems it (node id). */
  admin: string;
}
/** Reads an {@link InviteResult}. */
export const INVITE_RESULT: Shape<InviteResult> = record({
  token: text(8192),
  expires: text(64),
  uses: whole(1),
  admin: text(120),
});

/** `join`: ask a member to admit this node, then bring the interface up. */
export interface JoinRequest {
  /** Net name. */
  name: string;
  /** Invite token. */
  invite?: string;
  /** A member's grid URL (open nets without an invite). */
  via?: string;
  /** With `via`: the open net's id, when known (found on the LAN); the member refuses another net. */
  net?: string;
  /** WireGuard interface name. */
  interface?: string;
  /** WireGuard UDP port. */
  listenPort?: number;
  /** This node's WireGuard endpoint. */
  endpoint?: string;
  /** This node's name in the net. */
  nodeName?: string;
}
/** Reads a {@link JoinRequest}. */
export const JOIN_REQUEST: Shape<JoinRequest> = record({
  name: NAME,
  invite: optional(text(8192)),
  via: optional(text(512)),
  net: optional(text(128)),
  interface: optional(text(64)),
  listenPort: optional(PORT),
  endpoint: optional(ENDPOINT),
  nodeName: optional(text(64)),
});

/** What `join` did. */
export interface JoinResult {
  /** Net name. */
  name: string;
  /** Net id. */
  net: string;
  /** This node's tunnel address. */
  address: string;
  /** This node's IPv6 tunnel address (absent from an older agent). */
  address6?: string;
  /** The WireGuard interface. */
  interface: string;
  /** The member that admitted this node ("" when it was a member already). */
  admittedBy: string;
  /** The net's founder, from the records this node took in (absent from an older agent). */
  founder?: string;
  /** The net's admission promise text. */
  promise: string;
  /** True when this node was a live member already. */
  already?: boolean;
  /** Things the joiner should know (another member has the same name...). */
  warnings?: string[];
}
/** Reads a {@link JoinResult}. */
export const JOIN_RESULT: Shape<JoinResult> = record({
  name: NAME,
  net: ID,
  address: text(64),
  address6: optional(text(64)),
  interface: text(64),
  admittedBy: text(120),
  founder: optional(text(120)),
  promise: text(4096),
  already: optional(bool),
  warnings: optional(list(text(300), 16)),
});

/** `leave`: leave a net. */
export interface LeaveRequest {
  /** Net name. */
  name: string;
}
/** Reads a {@link LeaveRequest}. */
export const LEAVE_REQUEST: Shape<LeaveRequest> = record({ name: NAME });

/** What `leave` did. */
export interface LeaveResult {
  /** Net name. */
  name: string;
  /** Always true: the leave is recorded. */
  left: boolean;
  /** True once a member has the leave record; false while it waits for one. */
  told: boolean;
  /** What the operator should know (e.g. a nets.d file that would join the net again). */
  warnings?: string[];
}
/** Reads a {@link LeaveResult}. */
export const LEAVE_RESULT: Shape<LeaveResult> = record({
  name: NAME,
  left: bool,
  told: bool,
  warnings: optional(list(text(300), 16)),
});

/** `revoke`: every member drops a node. */
export interface RevokeRequest {
  /** Net name. */
  name: string;
  /** Node id, member name or tunnel address. */
  node: string;
  /** Also revoke everyone it invited, and whom they invited, and so on. */
  lineage?: boolean;
}
/** Reads a {@link RevokeRequest}. */
export const REVOKE_REQUEST: Shape<RevokeRequest> = record({
  name: NAME,
  node: text(120),
  lineage: optional(bool),
});

/** What `revoke` did. */
export interface RevokeResult {
  /** Net name. */
  name: string;
  /** Node id of the revoked member. */
  revoked: string;
  /** Its name. */
  memberName: string;
  /** Its tunnel address. */
  address: string;
  /** Names of the members revoked with it (`lineage`). */
  also: string[];
}
/** Reads a {@link RevokeResult}. */
export const REVOKE_RESULT: Shape<RevokeResult> = record({
  name: NAME,
  revoked: ID,
  memberName: text(64),
  address: text(64),
  also: list(text(64), 10_000),
});

/** `admins`: list a net's admins, or (the founder) grant or remove admin rights. */
export interface AdminsRequest {
  /** Net name. */
  name: string;
  /** What to do. */
  action: "list" | "add" | "remove";
  /** The member (node id, name or tunnel address), for add and remove. */
  node?: string;
  /** The address slice for a new admin (default: a free sixteenth of the block). */
  slice?: string;
}
/** Reads an {@link AdminsRequest}. */
export const ADMINS_REQUEST: Shape<AdminsRequest> = record({
  name: NAME,
  action: oneOf(["list", "add", "remove"] as const),
  node: optional(text(120)),
  slice: optional(text(64)),
});

/** `invites`: the invites this node made (one net, or all), or revoke one. */
export interface InvitesRequest {
  /** Net name (all nets when listing without one). */
  name?: string;
  /** The invite to revoke: its id or the start of it (needs `name`). */
  revoke?: string;
}
/** Reads an {@link InvitesRequest}. */
export const INVITES_REQUEST: Shape<InvitesRequest> = record({
  name: optional(NAME),
  revoke: optional(text(120)),
});

/** One invite this node made. */
export interface InviteInfo {
  /** The net's name. */
  net: string;
  /** The invite's id (hash of its signed bytes). */
  id: string;
  /** When it was made and expires (ISO 8601). */
  made: string;
  expires: string;
  /** Joins it allows, and joins it has admitted. */
  uses: number;
  used: number;
  /** The admin that redeems it. */
  admin: string;
  /** Where it stands. */
  state: "valid" | "used up" | "expired" | "revoked";
}

/** What `invites` answers: the invites, newest first. */
export interface InvitesResult {
  /** The invites. */
  invites: InviteInfo[];
}
/** Reads an {@link InvitesResult}. */
export const INVITES_RESULT: Shape<InvitesResult> = record({
  invites: list(
    record({
      net: NAME,
      id: ID,
      made: text(40),
      expires: text(40),
      uses: whole(),
      used: whole(),
      admin: ID,
      state: oneOf(["valid", "used up", "expired", "revoked"] as const),
    }),
    100_000,
  ),
});

/** One admin of a net. */
export interface AdminStatus {
  /** Node id. */
  id: string;
  /** Member name. */
  name: string;
  /** Tunnel address. */
  address: string;
  /** Founder, or an admin the founder named. */
  role: "founder" | "admin";
  /** The block it admits into (null for the founder: the rest of the net's). */
  slice: string | null;
}

/** A net's admins after the request. */
export interface AdminsResult {
  /** Net name. */
  name: string;
  /** The admins, founder first. */
  admins: AdminStatus[];
}
/** Reads an {@link AdminsResult}. */
export const ADMINS_RESULT: Shape<AdminsResult> = record({
  name: NAME,
  admins: list(
    record({
      id: ID,
      name: text(64),
      address: text(64),
      role: oneOf(["founder", "admin"] as const),
      slice: nullable(text(64)),
    }),
    10_000,
  ),
});

/** `status`: this node's view of its nets. */
export interface StatusRequest {
  /** Only this net. */
  name?: string;
}
/** Reads a {@link StatusRequest}. */
export const STATUS_REQUEST: Shape<StatusRequest> = record({ name: optional(NAME) });

/** A connected grid peer. */
export interface GridPeerStatus {
  /** Its node id. */
  id: string;
  /** The URL dialled or advertised, if any. */
  url: string | null;
  /** Who opened the link. */
  direction: "in" | "out";
}

/** One live peer of a net. */
export interface PeerStatus {
  /** Node id. */
  id: string;
  /** Member name. */
  name: string;
  /** Tunnel address. */
  address: string;
  /** IPv6 tunnel address (absent from an agent older than the IPv6 overlay). */
  address6?: string;
  /** Where WireGuard sends to it, or where its record says it listens. */
  endpoint: string | null;
  /** Unix seconds of the latest handshake, or null when never. */
  latestHandshake: number | null;
  /** Bytes received from it. */
  rxBytes: number;
  /** Bytes sent to it. */
  txBytes: number;
  /** True when it is on the interface. */
  configured: boolean;
  /** True when the interface holds a PSK for it (never the key). */
  psk: boolean;
  /** Its rights in the net. */
  role: "founder" | "admin" | "member";
  /** Whether this node has a grid link to it now. */
  link: "up" | "down";
  /** Unix seconds of its last sign of life on the grid link, or null when never. */
  lastHeard: number | null;
  /** Whether it held the same records as this node at their last exchange. */
  records: "same" | "differ" | "unknown";
  /**
   * How WireGuard reaches it: `direct`, `punched` (through NATs, at the
   * public endpoint its NAT gave it), `relay` (through member `via`, which
   * sees only ciphertext), `connecting`, or `unreachable` (see `why`).
   */
  path: "direct" | "punched" | "relay" | "connecting" | "unreachable";
  /** The relay's node id (the peer's own id: over the pair's own grid link), else null. */
  via: string | null;
  /** Why it is unreachable, or what is being tried, else null. */
  why: string | null;
}

/** What this node relays for others. */
export interface RelayStatus {
  /** False with `--no-relay`. */
  enabled: boolean;
  /** Circuits it carries now (one per pair it relays for). */
  circuits: number;
  /** The most it carries. */
  maxCircuits: number;
  /** Bytes it forwarded since the agent started. */
  bytes: number;
  /** Datagrams it dropped (over its rate, no circuit, a congested link). */
  dropped: number;
}

/** A member that left or was revoked. */
export interface FormerMember {
  /** Node id. */
  id: string;
  /** Member name. */
  name: string;
  /** The tunnel address it held. */
  address: string;
  /** The IPv6 tunnel address it held (absent from an older agent). */
  address6?: string;
  /** Left, or revoked. */
  status: "left" | "revoked";
  /** The admin that revoked it (null: it left). */
  revokedBy: string | null;
}

/** Where this node stands in a net. */
export type SelfStatus = "live" | "left" | "revoked" | "not-admitted";

/** One net as `grid status` shows it. */
export interface NetStatus {
  /** Net name. */
  name: string;
  /** Net id. */
  id: string;
  /** This node's standing. */
  status: SelfStatus;
  /** This node's rights in the net. */
  role: "founder" | "admin" | "member";
  /** The admin that revoked this node, when it was. */
  revokedBy: string | null;
  /** The WireGuard interface. */
  interface: string;
  /** True when the interface exists, is up and is WireGuard. */
  interfaceUp: boolean;
  /** `up`, `down` (exists, not up or not WireGuard), or `missing`. */
  interfaceState: "up" | "down" | "missing";
  /** This node's name in the net, or null when it is not a member. */
  self: string | null;
  /** This node's tunnel address. */
  address: string | null;
  /** This node's IPv6 tunnel address (absent from an older agent). */
  address6?: string | null;
  /** The address block. */
  cidr: string;
  /** The net's IPv6 block, a unique local /64 (absent from an older agent). */
  cidr6?: string;
  /** Open, or invite only. */
  policy: "open" | "invite";
  /** Pairwise PSKs on. */
  psk: boolean;
  /** Who may sign invites. */
  inviteBy: "admins" | "members";
  /** WireGuard UDP port. */
  listenPort: number;
  /** This node's endpoint in its record. */
  endpoint: string | null;
  /** Live members. */
  members: number;
  /** Records held. */
  records: number;
  /** Live peers. */
  peers: PeerStatus[];
  /** Members that left or were revoked. */
  former: FormerMember[];
}

/** The version of the {@link StatusReport} shape (`grid status --json`'s `schema`). */
export const STATUS_SCHEMA = 1;

/** This node, its grid peers and its nets. */
export interface StatusReport {
  /** The report's shape version ({@link STATUS_SCHEMA}): a change that breaks readers bumps it. */
  schema: number;
  /** This node's id. */
  node: string;
  /** True when an agent answered (false: read from disk). */
  agent: boolean;
  /** Connected grid peers. */
  gridPeers: GridPeerStatus[];
  /** What this node relays for others (null without an agent). */
  relay: RelayStatus | null;
  /** The nets. */
  nets: NetStatus[];
}

const MANY = 100_000;

/** Reads a {@link StatusReport}. */
export const STATUS_REPORT: Shape<StatusReport> = record({
  schema: whole(),
  node: text(120),
  agent: bool,
  gridPeers: list(
    record({ id: ID, url: nullable(text(512)), direction: oneOf(["in", "out"] as const) }),
    MANY,
  ),
  relay: nullable(record({
    enabled: bool,
    circuits: whole(),
    maxCircuits: whole(),
    bytes: whole(),
    dropped: whole(),
  })),
  nets: list(
    record({
      name: NAME,
      id: ID,
      status: oneOf(["live", "left", "revoked", "not-admitted"] as const),
      role: oneOf(["founder", "admin", "member"] as const),
      revokedBy: nullable(ID),
      interface: text(64),
      interfaceUp: bool,
      interfaceState: oneOf(["up", "down", "missing"] as const),
      self: nullable(text(64)),
      address: nullable(text(64)),
      address6: optional(nullable(text(64))),
      cidr: text(64),
      cidr6: optional(text(64)),
      policy: oneOf(["open", "invite"] as const),
      psk: bool,
      inviteBy: oneOf(["admins", "members"] as const),
      listenPort: PORT,
      endpoint: nullable(ENDPOINT),
      members: whole(),
      records: whole(),
      peers: list(
        record({
          id: ID,
          name: text(64),
          address: text(64),
          address6: optional(text(64)),
          endpoint: nullable(ENDPOINT),
          latestHandshake: nullable(whole()),
          rxBytes: whole(),
          txBytes: whole(),
          configured: bool,
          psk: bool,
          role: oneOf(["founder", "admin", "member"] as const),
          link: oneOf(["up", "down"] as const),
          lastHeard: nullable(whole()),
          records: oneOf(["same", "differ", "unknown"] as const),
          path: oneOf(["direct", "punched", "relay", "connecting", "unreachable"] as const),
          via: nullable(ID),
          why: nullable(text(300)),
        }),
        MANY,
      ),
      former: list(
        record({
          id: ID,
          name: text(64),
          address: text(64),
          address6: optional(text(64)),
          status: oneOf(["left", "revoked"] as const),
          revokedBy: nullable(ID),
        }),
        MANY,
      ),
    }),
    MANY,
  ),
});

/** Every operation with its request and result types. */
export interface MeshOps {
  /** Found a net. */
  create(request: CreateRequest): Promise<CreateResult>;
  /** Make an invite. */
  invite(request: InviteRequest): Promise<InviteResult>;
  /** Join a net. */
  join(request: JoinRequest, signal?: AbortSignal): Promise<JoinResult>;
  /** Leave a net. */
  leave(request: LeaveRequest): Promise<LeaveResult>;
  /** Revoke a member. */
  revoke(request: RevokeRequest): Promise<RevokeResult>;
  /** This node's view. */
  status(request: StatusRequest): Promise<StatusReport>;
  /** List, grant or remove admins. */
  admins(request: AdminsRequest): Promise<AdminsResult>;
  /** List this node's invites, or revoke one. */
  invites(request: InvitesRequest): Promise<InvitesResult>;
}

/** The operation names, and for each the shapes of its request and result. */
export const MESH_OPS = {
  create: { request: CREATE_REQUEST, result: CREATE_RESULT },
  invite: { request: INVITE_REQUEST, result: INVITE_RESULT },
  join: { request: JOIN_REQUEST, result: JOIN_RESULT },
  leave: { request: LEAVE_REQUEST, result: LEAVE_RESULT },
  revoke: { request: REVOKE_REQUEST, result: REVOKE_RESULT },
  status: { request: STATUS_REQUEST, result: STATUS_REPORT },
  admins: { request: ADMINS_REQUEST, result: ADMINS_RESULT },
  invites: { request: INVITES_REQUEST, result: INVITES_RESULT },
} as const;

/** An operation's name. */
export type MeshOp = keyof typeof MESH_OPS;
