/**
 * The promises the kernel itself knows: the accept and reject replies every
 * module answers with, and helpers to build and read them. A promise is
 * addressed by the CIDv1 of its text; the texts are part of the protocol.
 *
 * @module
 */
import { CID, hashText } from "./hash.ts";
import type { Parm, Parms } from "./codec.ts";
import { ACCEPT_TEXT, REJECT_TEXT } from "./base/wire.ts";

export { ACCEPT_TEXT, REJECT_TEXT };

/** Hash of {@link ACCEPT_TEXT}. */
export const ACCEPT: CID = hashText(ACCEPT_TEXT);
/** Hash of {@link REJECT_TEXT}. */
export const REJECT: CID = hashText(REJECT_TEXT);

/** A reply that accepts, with `payload` as the answer. */
export function accept(...payload: Parm[]): Parms {
  return [ACCEPT, ...payload];
}

/** A reply that rejects with a stable code and a one-line reason. */
export function reject(code: string, reason: string): Parms {
  return [REJECT, code, reason];
}

/** True for a reply whose slot 0 is the accept promise. */
export function isAccept(reply: readonly Parm[]): boolean {
  return Array.isArray(reply) && reply[0] instanceof CID && ACCEPT.equals(reply[0]);
}

/** True for a reply whose slot 0 is the reject promise. */
export function isReject(reply: readonly Parm[]): boolean {
  return Array.isArray(reply) && reply[0] instanceof CID && REJECT.equals(reply[0]);
}

/** The code and reason of a reject reply (defaults for a malformed one). */
export function rejectReason(reply: readonly Parm[]): { code: string; reason: string } {
  const code = Array.isArray(reply) && typeof reply[1] === "string" ? reply[1] : "internal";
  const reason = Array.isArray(reply) && typeof reply[2] === "string"
    ? reply[2]
    : "rejected without a reason";
  return { code, reason };
}

/**
 * What the kernel knows of one promise a message may lead with: its text,
 * whether answers to it may be cached (pure, content-addressed calls), and how
 * to check that an accepting module kept it.
 */
export interface PromiseSpec {
  /** The promise text; its hash is the promise's address. */
  readonly text: string;
  /** Answers depend only on the parms: the kernel may keep and reuse them. */
  readonly cacheable?: boolean;
  /** Checks an accept reply against the request; false means the promise was broken. */
  readonly verify?: (parms: Parms, reply: Parms) => boolean;
}

/** A promise spec with its hash. */
export interface KnownPromise extends PromiseSpec {
  /** Hash of the text. */
  readonly cid: CID;
}

/** Hashes a spec's text. */
export function definePromise(spec: PromiseSpec): KnownPromise {
  return { ...spec, cid: hashText(spec.text) };
}

/**
 * A handled request's answer: `[ACCEPT, "ok", ...payload]`. A module that
 * answers with {@link answer} or {@link refusal} has handled the request
 * either way, so the kernel neither tries other modules nor learns to route
 * around it (a refusal is not a broken promise).
 */
export function answer(...payload: Parm[]): Parms {
  return accept("ok", ...payload);
}

/** A handled request's refusal, with a stable code and one line. */
export function refusal(code: string, reason: string): Parms {
  return accept("refused", code, reason);
}

/** Reads a reply: the answer's payload, or the refusal (or reject) with its code and reason. */
export function readAnswer(
  reply: Parms,
): { ok: true; payload: Parm[] } | { ok: false; code: string; reason: string } {
  if (isAccept(reply) && reply[1] === "ok") return { ok: true, payload: reply.slice(2) };
  if (isAccept(reply) && reply[1] === "refused") {
    return {
      ok: false,
      code: typeof reply[2] === "string" ? reply[2] : "internal",
      reason: typeof reply[3] === "string" ? reply[3].slice(0, 500) : "refused without a reason",
    };
  }
  if (isAccept(reply)) return { ok: false, code: "codec", reason: "A malformed answer" };
  return { ok: false, ...rejectReason(reply) };
}
