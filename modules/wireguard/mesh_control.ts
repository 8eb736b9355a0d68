/**
 * The local mesh control channel: the promise and module a mesh command
 * addresses (`[MESH_CONTROL_PROMISE, MESH_CONTROL_MODULE, op, args]`, local
 * origin only), the module that answers it, and {@link callMesh}, which a
 * command uses to reach the agent's mesh service through the kernel.
 *
 * @module
 */
import {
  type CallContext,
  type CID,
  definePromise,
  hashText,
  isAccept,
  type KnownPromise,
  type Module,
  oneLine,
  type Parm,
  type Parms,
  reject,
  rejectCodeOf,
  RejectedError,
} from "../../kernel/mod.ts";
import { answer, MembershipError, readAnswer, refusal } from "../membership/mod.ts";

/** The local control module's text and id. */
export const MESH_CONTROL_TEXT =
  "grid/module/mesh-control/v1: I run this node's WireGuard mesh commands (create, invite, join, leave, revoke, status) for this node's own user only.";
/** Id of the local mesh control module. */
export const MESH_CONTROL_MODULE: CID = hashText(MESH_CONTROL_TEXT);
/** The promise a local command makes to the mesh service. */
export const MESH_CONTROL_PROMISE: KnownPromise = definePromise({
  text:
    "grid/mesh/control/v1: I am this node's own user. I ask the mesh service to act on this node's WireGuard nets as the command I run says, and to answer me with the result.",
});

/** A control request/result: plain CBOR data. */
export type MeshArgs = { [key: string]: Parm };

/** Text option `key` of a control request, if given. */
export function argString(args: MeshArgs, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new MembershipError(`Option "${key}" must be text`);
  return v;
}

/** Whole-number option `key` of a control request, if given. */
export function argNumber(args: MeshArgs, key: string): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new MembershipError(`Option "${key}" must be a whole number`);
  }
  return v;
}

/** The control module: runs `run(op, args)` for the local user and answers with its result. */
export function meshControlModule(
  run: (op: string, args: MeshArgs, signal?: AbortSignal) => Promise<MeshArgs>,
): Module {
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
      const args = parms[3];
      if (
        typeof op !== "string" || typeof args !== "object" || args === null || Array.isArray(args)
      ) {
        return reject("usage", "A mesh control message is [op, args]");
      }
      try {
        return answer(await run(op, args as MeshArgs, ctx.signal));
      } catch (err) {
        return refusal(rejectCodeOf(err), oneLine(err));
      }
    },
  };
}

/**
 * Asks the agent's mesh service (through the kernel) to run `op`. Returns
 * undefined when no mesh service answers here (no agent: run offline).
 */
export async function callMesh(
  call: (parms: Parms) => Promise<Parms>,
  op: string,
  args: MeshArgs,
): Promise<MeshArgs | undefined> {
  const reply = await call([MESH_CONTROL_PROMISE.cid, MESH_CONTROL_MODULE, op, args]);
  const read = readAnswer(reply);
  if (read.ok) return read.payload[0] as MeshArgs;
  // A plain reject means no mesh service handled it here; a refusal is its answer.
  if (!isAccept(reply) && (read.code === "not-accepted" || read.code === "route")) return undefined;
  throw new RejectedError(read.code as never, read.reason);
}
