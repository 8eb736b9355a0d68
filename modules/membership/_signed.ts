/**
 * The signed envelope shared by records, invites and member requests:
 * `{body: bytes, sig: bytes}` in CBOR, where `body` is itself CBOR and the
 * Ed25519 signature covers a context string then the body bytes, so a
 * signature made for one kind of object never verifies as another.
 *
 * @module
 */
import {
  CodecError,
  decodeValue,
  encodeValue,
  type Identity,
  type Parm,
} from "../../kernel/mod.ts";
import { verifySignature } from "../../kernel/mod.ts";
import { MembershipError } from "./errors.ts";

/** A decoded envelope: the body's bytes and value, and the signature. */
export interface SignedEnvelope {
  /** The signed bytes. */
  readonly bodyBytes: Uint8Array;
  /** The body, decoded. */
  readonly body: { [key: string]: Parm };
  /** The signature over `bodyBytes`. */
  readonly sig: Uint8Array;
}

function withContext(context: string, body: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(context + "\n");
  const all = new Uint8Array(prefix.length + body.length);
  all.set(prefix);
  all.set(body, prefix.length);
  return all;
}

/** Encodes and signs `body` under `context`; returns the envelope bytes. */
export async function signEnvelope(
  identity: Identity,
  context: string,
  body: { [key: string]: Parm },
): Promise<Uint8Array> {
  const bodyBytes = encodeValue(body);
  const sig = await identity.sign(withContext(context, bodyBytes));
  return encodeValue({ body: bodyBytes, sig });
}

/** Decodes an envelope (bounded to `maxBytes`); throws {@link MembershipError} naming `what`. */
export function openEnvelope(bytes: Uint8Array, what: string, maxBytes: number): SignedEnvelope {
  if (!(bytes instanceof Uint8Array)) throw new MembershipError(`${what} is not bytes`);
  if (bytes.length > maxBytes) {
    throw new MembershipError(
      `${what} of ${bytes.length} bytes is over the ${maxBytes}-byte limit`,
    );
  }
  try {
    const outer = decodeValue(bytes, { maxBytes, maxDepth: 4 });
    if (!isMap(outer) || Object.keys(outer).length !== 2) throw new Error("want {body, sig}");
    const { body: bodyBytes, sig } = outer;
    if (!(bodyBytes instanceof Uint8Array) || !(sig instanceof Uint8Array)) {
      throw new Error("body and sig must be bytes");
    }
    const body = decodeValue(bodyBytes, { maxBytes, maxDepth: 6 });
    if (!isMap(body)) throw new Error("body must be a map");
    return { bodyBytes, body, sig };
  } catch (err) {
    if (err instanceof MembershipError) throw err;
    const why = err instanceof CodecError || err instanceof Error ? err.message : String(err);
    throw new MembershipError(`${what} is malformed: ${why}`, { cause: err });
  }
}

/** Verifies an envelope's signature under `context` with `publicKey`. */
export function verifyEnvelope(
  envelope: SignedEnvelope,
  context: string,
  publicKey: Uint8Array,
): Promise<boolean> {
  return verifySignature(publicKey, envelope.sig, withContext(context, envelope.bodyBytes));
}

/** True for a plain CBOR map. */
export function isMap(value: unknown): value is { [key: string]: Parm } {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && Object.getPrototypeOf(value) === Object.prototype;
}
