/**
 * Path orders: what the arranger of a pair tells the other end (the
 * follower) to do, signed with the arranger's identity key, so that the
 * helper or relay that passes an order on cannot make one up or change it,
 * and no other member can steer a pair it is not part of. The follower
 * checks the signature against the arranger's key in the member set, that
 * the order names this net and itself, that it is fresh (at most
 * {@link ORDER_TTL_MS} old, not from the future) and that it has not seen
 * it before.
 *
 * - `punch`: punch towards the arranger at `candidates` now (`upgrade`: move
 *   the running session, relayed until now, to the direct path);
 * - `relay`: take circuit `circuit` through member `via`;
 * - `verdict`: whether the try to go direct (`attempt`) worked.
 *
 * @module
 */
import {
  bool,
  decodeValue,
  encodeValue,
  type Identity,
  list,
  oneOf,
  optional,
  type Parm,
  readShape,
  record,
  text,
  verifySignature,
  whole,
} from "../../kernel/mod.ts";

/** Signature context of path orders. */
export const ORDER_CONTEXT = "grid/mesh/path-order/v1";
/** An order older than this is refused. */
export const ORDER_TTL_MS = 30_000;
/** Clock skew an order may show (it is dated by the arranger's clock). */
export const ORDER_SKEW_MS = 5 * 60_000;
/** Largest encoded order. */
export const MAX_ORDER_BYTES = 2048;

/** An order of the arranger to the follower. */
export interface PathOrder {
  /** What to do. */
  op: "punch" | "relay" | "verdict";
  /** Net id. */
  net: string;
  /** The arranger's node id (it signs). */
  arranger: string;
  /** The follower's node id. */
  follower: string;
  /** When the arranger made it (ms since the epoch, its clock). */
  at: number;
  /** punch, verdict: the attempt's number. */
  attempt?: number;
  /** punch: move a running session (relayed until now) rather than start one. */
  upgrade?: boolean;
  /** punch: where the arranger may be reached, best first. */
  candidates?: string[];
  /** relay: the member carrying the circuit (the follower itself: over the pair's own link). */
  via?: string;
  /** relay: the circuit number. */
  circuit?: number;
  /** verdict: whether the direct path worked. */
  ok?: boolean;
}

const ID = text(120);
const ORDER = record({
  op: oneOf(["punch", "relay", "verdict"] as const),
  net: ID,
  arranger: ID,
  follower: ID,
  at: whole(),
  attempt: optional(whole(0, 0xffff_ffff)),
  upgrade: optional(bool),
  candidates: optional(list(text(64), 8)),
  via: optional(ID),
  circuit: optional(whole(1, 0xffff_ffff)),
  ok: optional(bool),
});

/** Thrown for an order that must not be followed; the message is one line. */
export class OrderError extends Error {
  /** An order refused, saying why. */
  constructor(message: string) {
    super(message);
    this.name = "OrderError";
  }
}

function signedBytes(body: Uint8Array): Uint8Array {
  const context = new TextEncoder().encode(ORDER_CONTEXT + "\n");
  const out = new Uint8Array(context.length + body.length);
  out.set(context, 0);
  out.set(body, context.length);
  return out;
}

/** Signs `order` with the arranger's identity: `cbor([body, signature])`. */
export async function signOrder(identity: Identity, order: PathOrder): Promise<Uint8Array> {
  const fields: { [key: string]: Parm } = {};
  for (const [k, v] of Object.entries(order)) if (v !== undefined) fields[k] = v as Parm;
  const body = encodeValue(fields);
  return encodeValue([body, await identity.sign(signedBytes(body))]);
}

/** What the follower expects of an order. */
export interface OrderCheck {
  /** This net's id. */
  net: string;
  /** This node's id (the follower). */
  follower: string;
  /** The arranger's identity key, from the member set. */
  key: (arranger: string) => Uint8Array | undefined;
  /** The time now (ms since the epoch). */
  now: number;
}

/**
 * Reads and checks an order; throws {@link OrderError} for one that is
 * malformed, not signed by the arranger it names, for another net or node,
 * or stale.
 */
export async function readOrder(bytes: Uint8Array, check: OrderCheck): Promise<PathOrder> {
  if (bytes.length > MAX_ORDER_BYTES) throw new OrderError("The order is too large");
  let body: Uint8Array;
  let signature: Uint8Array;
  let order: PathOrder;
  try {
    const outer = decodeValue(bytes, { maxBytes: MAX_ORDER_BYTES });
    if (!Array.isArray(outer) || outer.length !== 2) throw new Error("not [body, signature]");
    const [b, s] = outer;
    if (!(b instanceof Uint8Array) || !(s instanceof Uint8Array)) throw new Error("not bytes");
    body = b;
    signature = s;
    order = readShape(ORDER, decodeValue(body), (why) => new Error(why));
  } catch (err) {
    throw new OrderError(`The order is malformed: ${(err as Error).message}`);
  }
  if (order.net !== check.net) throw new OrderError("The order is for another net");
  if (order.follower !== check.follower) throw new OrderError("The order is for another node");
  const key = check.key(order.arranger);
  if (!key || !(await verifySignature(key, signature, signedBytes(body)))) {
    throw new OrderError(`The order is not signed by "${order.arranger}", a live member`);
  }
  if (order.at < check.now - ORDER_TTL_MS - ORDER_SKEW_MS || order.at > check.now + ORDER_SKEW_MS) {
    throw new OrderError("The order is stale");
  }
  const need: Record<PathOrder["op"], (keyof PathOrder)[]> = {
    punch: ["attempt", "upgrade", "candidates"],
    relay: ["via", "circuit"],
    verdict: ["attempt", "ok"],
  };
  for (const field of need[order.op]) {
    if (order[field] === undefined) throw new OrderError(`A ${order.op} order needs ${field}`);
  }
  return order;
}

/** Remembers the orders a follower took, so none is taken twice (bounded). */
export class SeenOrders {
  readonly #seen = new Map<string, number>();
  /** True the first time `bytes` is seen within the order's lifetime. */
  first(bytes: Uint8Array, now: number): boolean {
    const key = bytes.toHex().slice(-64); // the signature's tail: unique per order
    for (const [k, at] of this.#seen) {
      if (now - at <= ORDER_TTL_MS + ORDER_SKEW_MS && this.#seen.size < 4096) break;
      this.#seen.delete(k);
    }
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, now);
    return true;
  }
}
