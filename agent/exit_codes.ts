/**
 * Exit codes of the command line, in one place: every error code the kernel
 * and the modules own maps to one exit code here, at the CLI's edge (the
 * kernel knows nothing of exit codes, nor of WireGuard or membership).
 *
 * @module
 */
import { GridError } from "../kernel/base/mod.ts";

// The modules' own codes are spelled here rather than imported (WIREGUARD_ERROR_CODE,
// MEMBERSHIP_ERROR_CODE): importing them would load both modules, and the kernel under them,
// into every command line, even one the agent answers. exit_codes_test.ts checks that each
// module's error class maps to its exit code, so a renamed code fails the tests.
const EXIT_CODES: Readonly<Record<string, number>> = {
  usage: 2,
  "not-found": 3,
  "not-accepted": 4,
  denied: 4,
  codec: 5,
  "cache-key": 5,
  hash: 5,
  cas: 6,
  route: 7,
  module: 7,
  peer: 8,
  config: 9,
  wireguard: 10,
  membership: 11,
};

/** Maps any thrown value to a process exit code (1 for unexpected errors). */
export function exitCodeOf(err: unknown): number {
  // A code from the wire may be outside the known set (e.g. "internal"): still a failure.
  return err instanceof GridError ? exitCodeForCode(err.code) : 1;
}

/** Maps an error or reject code to a process exit code (1 for unknown codes). */
export function exitCodeForCode(code: string): number {
  return Object.hasOwn(EXIT_CODES, code) ? EXIT_CODES[code] : 1;
}
