/**
 * The WireGuard layer's one error type.
 *
 * @module
 */
import { GridError } from "../../kernel/mod.ts";

/** The error code the WireGuard layer's failures carry (on the wire and to the CLI). */
export const WIREGUARD_ERROR_CODE = "wireguard";

/**
 * Anything the WireGuard layer could not do: a `wg`/`ip`/`wireguard-go`
 * command that failed, output it cannot parse, or a spec it refuses. The
 * message says what was being done (`Cannot add peer to "grid0": ...`).
 */
export class WireGuardError extends GridError {
  /** An error with code `wireguard`; `options.cause` keeps the underlying failure. */
  constructor(message: string, options?: ErrorOptions) {
    super(WIREGUARD_ERROR_CODE, message, options);
    this.name = "WireGuardError";
  }
}
