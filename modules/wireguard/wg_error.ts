/**
 * The WireGuard layer's one error type.
 *
 * @module
 */
import { GridError } from "../../kernel/mod.ts";

/**
 * Anything the WireGuard layer could not do: a `wg`/`ip`/`wireguard-go`
 * command that failed, output it cannot parse, or a spec it refuses. The
 * message says what was being done (`Cannot add peer to "grid0": ...`).
 */
export class WireGuardError extends GridError {
  /** An error with code `wireguard`; `options.cause` keeps the underlying failure. */
  constructor(message: string, options?: ErrorOptions) {
    super("wireguard", message, options);
    this.name = "WireGuardError";
  }
}
