/**
 * The path protocol (version 1): how members help each other reach one
 * another across NATs, with no server. Messages are CBOR parms through the
 * kernel, `[PATH_PROMISE, PATHS_MODULE, op, netId, ...]`, answered with
 * `[ACCEPT, "ok", ...]` or a refusal; only live members of the net are
 * answered, about live members.
 *
 * - `["punch", net, peer, attempt, upgrade, order]` (arranger → helper) →
 *   `ok, candidates-of-peer`: the helper passes the order on to `peer` at
 *   the same moment with `["punch-go", net, arranger, order]`.
 * - `["verdict", net, peer, order]` (arranger → helper), passed on as
 *   `["verdict-go", net, arranger, order]`: whether a try to go direct
 *   while relayed worked.
 * - `["relay-open", net, peer, circuit, order]` (arranger → relay) → `ok`:
 *   the relay offers the circuit to `peer` with `["relay-offer", net,
 *   arranger, order]` first; a relay that is `peer` itself ends the circuit
 *   there.
 * - `["relay-close", net, peer, circuit]` (an end → relay; also from an end
 *   that is no longer a member), and `["relay-closed", net, peer, circuit]`
 *   (relay → the other end).
 *
 * Every `order` is signed by the arranger (path_order.ts): a helper or relay
 * passes it on and cannot forge or change it, and the follower acts on
 * nothing else.
 *
 * Then WireGuard's packets travel as link datagrams on the circuit number.
 * A node that predates this protocol refuses every message (no such
 * module), so it is never asked to relay and never sent a datagram.
 *
 * @module
 */
import {
  bool,
  bytes,
  type CID,
  definePromise,
  hashText,
  type KnownPromise,
  type Parm,
  type Parms,
  type Shape,
  text,
  whole,
} from "../../kernel/mod.ts";
import { MAX_ORDER_BYTES } from "./path_order.ts";

/** The path module's text; its hash is the module id peers address. */
export const PATHS_TEXT =
  "grid/module/mesh-paths/v1: I help the members of the nets this node belongs to reach each other. I tell two of them at the same moment where to punch through their NATs, and when no direct path works I carry their WireGuard packets, which I cannot read, without altering them.";
/** The path module's id. */
export const PATHS_MODULE: CID = hashText(PATHS_TEXT);

/** The promise every path message leads with. */
export const PATH_PROMISE: KnownPromise = definePromise({
  text:
    "grid/mesh/path/v1: I am a member of this net. I ask you to help me reach another member, or tell you how it will reach you; on a relay circuit I send only WireGuard's own encrypted packets, never more than the relay agreed to carry.",
});

/** The operations. */
export type PathOp =
  | "punch"
  | "punch-go"
  | "verdict"
  | "verdict-go"
  | "relay-open"
  | "relay-offer"
  | "relay-close"
  | "relay-closed";

const ID = text(120);
const ATTEMPT = whole(0, 0xffff_ffff);
const CIRCUIT = whole(1, 0xffff_ffff);
const ORDER = bytes(MAX_ORDER_BYTES);

/** What each operation carries after `op, net`. */
export const PATH_ARGS = {
  "punch": [ID, ATTEMPT, bool, ORDER],
  "punch-go": [ID, ORDER],
  "verdict": [ID, ORDER],
  "verdict-go": [ID, ORDER],
  "relay-open": [ID, CIRCUIT, ORDER],
  "relay-offer": [ID, ORDER],
  "relay-close": [ID, CIRCUIT],
  "relay-closed": [ID, CIRCUIT],
} as const satisfies Record<PathOp, readonly Shape<unknown>[]>;

/** Operations that make a node change WireGuard or its circuits (a smaller budget per peer). */
export const ACTING_OPS: ReadonlySet<PathOp> = new Set([
  "punch",
  "punch-go",
  "verdict",
  "verdict-go",
  "relay-open",
  "relay-offer",
]);

/** A path message. */
export function pathMessage(op: PathOp, net: string, ...args: Parm[]): Parms {
  return [PATH_PROMISE.cid, PATHS_MODULE, op, net, ...args];
}
