/**
 * The membership boundary's one error type: every refusal (a bad record, an
 * expired invite, a closed net) is a {@link MembershipError} with a clear,
 * one-line message, so the CLI exits non-zero and the wire carries a reject.
 *
 * @module
 */
import { GridError } from "../../kernel/mod.ts";

/** The error code membership refusals carry (on the wire and to the CLI). */
export const MEMBERSHIP_ERROR_CODE = "membership";

/** A membership refusal or malformed membership data (code "membership"). */
export class MembershipError extends GridError {
  /** A refusal with a one-line `message`. */
  constructor(message: string, options?: ErrorOptions) {
    super(MEMBERSHIP_ERROR_CODE, message, options);
    this.name = "MembershipError";
  }
}

/**
 * A join that reached no member able to answer it (none reachable, or none
 * that handles joins): unlike a member's refusal, trying again later may work.
 */
export class JoinUnreachable extends MembershipError {
  /** Nobody answered the join; `message` says what was tried. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JoinUnreachable";
  }
}
