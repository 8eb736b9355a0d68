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
  /** Further signatures over the same bytes, by other keys (e.g. proofs of key possession). */
  readonly proofs: { [name: string]: Uint8Array };
}

function withContext(context: string, body: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(context + "\n");
  const all = new Uint8Array(prefix.length + body.length);
  all.set(prefix);
  all.set(body, prefix.length);
  return all;
}

/** A further signature an envelope carries: its name, and how to sign the body bytes with context. */
export type ProofSigner = (signedBytes: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/**
 * Encodes and signs `body` under `context`; returns the envelope bytes. Each
 * of `proofs` signs the same body bytes (each under its own context, which
 * the signer adds) and travels beside `sig`.
 */
export async function signEnvelope(
  identity: Identity,
  context: string,
  body: { [key: string]: Parm },
  proofs: { [name: string]: ProofSigner } = {},
): Promise<Uint8Array> {
  const bodyBytes = encodeValue(body);
  const sig = await identity.sign(withContext(context, bodyBytes));
  const envelope: { [key: string]: Parm } = { body: bodyBytes, sig };
  for (const [name, sign] of Object.entries(proofs)) envelope[name] = await sign(bodyBytes);
  return encodeValue(envelope);
}

/** `context` + newline + `body`: what a signature under that context covers. */
export function signedBytes(context: string, body: Uint8Array): Uint8Array {
  return withContext(context, body);
}

/**
 * Decodes an envelope (bounded to `maxBytes`); throws {@link MembershipError}
 * naming `what`. `proofNames` are the further signatures it may carry.
 */
export function openEnvelope(
  bytes: Uint8Array,
  what: string,
  maxBytes: number,
  proofNames: readonly string[] = [],
): SignedEnvelope {
  if (!(bytes instanceof Uint8Array)) throw new MembershipError(`${what} is not bytes`);
  if (bytes.length > maxBytes) {
    throw new MembershipError(
      `${what} of ${bytes.length} bytes is over the ${maxBytes}-byte limit`,
    );
  }
  try {
    const outer = decodeValue(bytes, { maxBytes, maxDepth: 4 });
    if (!isMap(outer)) throw new Error("want {body, sig}");
    const { body: bodyBytes, sig } = outer;
    if (!(bodyBytes instanceof Uint8Array) || !(sig instanceof Uint8Array)) {
      throw new Error("body and sig must be bytes");
    }
    const proofs: { [name: string]: Uint8Array } = {};
    for (const [key, value] of Object.entries(outer)) {
      if (key === "body" || key === "sig") continue;
      if (!proofNames.includes(key)) throw new Error(`unknown field "${key.slice(0, 20)}"`);
      if (!(value instanceof Uint8Array) || value.length !== 64) {
        throw new Error(`${key} must be a 64-byte signature`);
      }
      proofs[key] = value;
    }
    const body = decodeValue(bodyBytes, { maxBytes, maxDepth: 6 });
    if (!isMap(body)) throw new Error("body must be a map");
    return { bodyBytes, body, sig, proofs };
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

/** The membership data format this node speaks (records, requests, invites). */
export const FORMAT_VERSION = 2;

/**
 * Refuses a body whose `v` is not {@link FORMAT_VERSION}, naming both
 * versions (a node of the previous release made version 1).
 */
export function checkVersion(version: unknown, what: string): void {
  if (version === FORMAT_VERSION) return;
  const theirs = typeof version === "number" ? `version ${version}` : "an unknown version";
  throw new MembershipError(
    `${what} is in membership format ${theirs}; this node speaks version ${FORMAT_VERSION}` +
      (version === 1 ? " (version 1 is grid 0.1: upgrade that node, or make a new one)" : ""),
  );
}
