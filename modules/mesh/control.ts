/**
 * The local mesh control channel: the promise and module a mesh command
 * addresses (`[MESH_CONTROL_PROMISE, MESH_CONTROL_MODULE, op, request]`,
 * local origin only), the module that answers it, reading each request with
 * its operation's shape (the control edge), and {@link MeshClient}, through
 * which a command reaches the agent's mesh service with typed calls.
 *
 * @module
 */
import {
  answer,
  type CallContext,
  type CID,
  definePromise,
  hashText,
  isAccept,
  type KnownPromise,
  type Module,
  oneLine,
  type Parms,
  readAnswer,
  readShape,
  refusal,
  reject,
  rejectCodeOf,
  RejectedError,
  type Shape,
  toParm,
} from "../../kernel/mod.ts";
import {
  type AdminsRequest,
  type AdminsResult,
  type CreateRequest,
  type CreateResult,
  type InviteRequest,
  type InviteResult,
  type InvitesRequest,
  type InvitesResult,
  type JoinRequest,
  type JoinResult,
  type LeaveRequest,
  type LeaveResult,
  MESH_OPS,
  type MeshOp,
  type MeshOps,
  type RevokeRequest,
  type RevokeResult,
  type StatusReport,
  type StatusRequest,
} from "./protocol.ts";
import { MembershipError } from "../membership/mod.ts";

/** The local control module's text and id. */
export const MESH_CONTROL_TEXT =
  "grid/module/mesh-control/v1: I run this node's WireGuard mesh commands (create, invite, join, leave, revoke, admins, status) for this node's own user only.";
/** Id of the local mesh control module. */
export const MESH_CONTROL_MODULE: CID = hashText(MESH_CONTROL_TEXT);
/** The promise a local command makes to the mesh service. */
export const MESH_CONTROL_PROMISE: KnownPromise = definePromise({
  text:
    "grid/mesh/control/v1: I am this node's own user. I ask the mesh service to act on this node's WireGuard nets as the command I run says, and to answer me with the result.",
});

/** The operation `ping`: answers when a mesh service runs here. */
const PING = "ping";

function isOp(op: unknown): op is MeshOp {
  return typeof op === "string" && Object.hasOwn(MESH_OPS, op);
}

/** Runs one typed operation on `ops`; the request was read with the operation's shape. */
function dispatch(ops: MeshOps, op: MeshOp, request: unknown, signal?: AbortSignal) {
  const read = <T>(shape: Shape<T>): T =>
    readShape(
      shape,
      request,
      (why) => new MembershipError(`Mesh request is malformed: ${why}`),
      op,
    );
  switch (op) {
    case "create":
      return ops.create(read(MESH_OPS.create.request));
    case "invite":
      return ops.invite(read(MESH_OPS.invite.request));
    case "join":
      return ops.join(read(MESH_OPS.join.request), signal);
    case "leave":
      return ops.leave(read(MESH_OPS.leave.request));
    case "revoke":
      return ops.revoke(read(MESH_OPS.revoke.request));
    case "status":
      return ops.status(read(MESH_OPS.status.request));
    case "admins":
      return ops.admins(read(MESH_OPS.admins.request));
    case "invites":
      return ops.invites(read(MESH_OPS.invites.request));
  }
}

/** The control module: reads each request at this edge, runs it on `ops`, answers its result. */
export function meshControlModule(ops: MeshOps): Module {
  return {
    id: MESH_CONTROL_MODULE,
    name: "mesh-control",
    promise: MESH_CONTROL_TEXT,
    scope: "own",
    accept: async (parms: Parms, ctx: CallContext): Promise<Parms> => {
      if (ctx.origin !== "local") {
        return reject("denied", "Mesh control answers only the local user");
      }
      const op = parms[2];
      if (op === PING) return answer({ ok: true });
      if (!isOp(op)) {
        return typeof op === "string"
          ? refusal("membership", `Unknown mesh operation "${op.slice(0, 20)}"`)
          : reject("usage", "A mesh control message is [op, request]");
      }
      try {
        return answer(toParm(await dispatch(ops, op, parms[3], ctx.signal)));
      } catch (err) {
        return refusal(rejectCodeOf(err), oneLine(err));
      }
    },
  };
}

/**
 * The mesh service of the agent, through the kernel. Each call resolves with
 * its typed result, throws the service's refusal, or (for {@link ping})
 * tells that no mesh service runs here (no agent: run offline instead).
 */
export class MeshClient implements MeshOps {
  readonly #call: (parms: Parms) => Promise<Parms>;

  /** A client sending through `call` (a command's `ctx.call`). */
  constructor(call: (parms: Parms) => Promise<Parms>) {
    this.#call = call;
  }

  /** True when a mesh service answers here. */
  async ping(): Promise<boolean> {
    const reply = await this.#call([MESH_CONTROL_PROMISE.cid, MESH_CONTROL_MODULE, PING, {}]);
    const read = readAnswer(reply);
    if (read.ok) return true;
    // A plain reject means no mesh service handled it here; a refusal is its answer.
    if (!isAccept(reply) && (read.code === "not-accepted" || read.code === "route")) return false;
    throw new RejectedError(read.code, read.reason);
  }

  async #run<T>(op: MeshOp, request: object, result: Shape<T>): Promise<T> {
    const reply = await this.#call([
      MESH_CONTROL_PROMISE.cid,
      MESH_CONTROL_MODULE,
      op,
      toParm(request),
    ]);
    const read = readAnswer(reply);
    if (!read.ok) {
      if (!isAccept(reply) && (read.code === "not-accepted" || read.code === "route")) {
        throw new RejectedError(read.code, "No mesh service runs on this node: start grid serve");
      }
      throw new RejectedError(read.code, read.reason);
    }
    const fail = (why: string) => new MembershipError(`The mesh service answered badly: ${why}`);
    return readShape(result, read.payload[0], fail, op);
  }

  /** {@link MeshOps.create} in the agent. */
  create(request: CreateRequest): Promise<CreateResult> {
    return this.#run("create", request, MESH_OPS.create.result);
  }
  /** {@link MeshOps.invite} in the agent. */
  invite(request: InviteRequest): Promise<InviteResult> {
    return this.#run("invite", request, MESH_OPS.invite.result);
  }
  /** {@link MeshOps.join} in the agent (the signal stays here: a join runs to its end). */
  join(request: JoinRequest): Promise<JoinResult> {
    return this.#run("join", request, MESH_OPS.join.result);
  }
  /** {@link MeshOps.leave} in the agent. */
  leave(request: LeaveRequest): Promise<LeaveResult> {
    return this.#run("leave", request, MESH_OPS.leave.result);
  }
  /** {@link MeshOps.revoke} in the agent. */
  revoke(request: RevokeRequest): Promise<RevokeResult> {
    return this.#run("revoke", request, MESH_OPS.revoke.result);
  }
  /** {@link MeshOps.status} in the agent. */
  status(request: StatusRequest): Promise<StatusReport> {
    return this.#run("status", request, MESH_OPS.status.result);
  }
  /** {@link MeshOps.admins} in the agent. */
  admins(request: AdminsRequest): Promise<AdminsResult> {
    return this.#run("admins", request, MESH_OPS.admins.result);
  }
  /** {@link MeshOps.invites} in the agent. */
  invites(request: InvitesRequest): Promise<InvitesResult> {
    return this.#run("invites", request, MESH_OPS.invites.result);
  }
}
