/**
 * Minimal assertions for tests (JSR's @std/assert is not reachable here).
 * Failures throw AssertionError with both sides shown.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert";
import { AssertionError } from "node:assert";

export { AssertionError };

/** Deep equality, as node:assert's deepStrictEqual. */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  // Two calls: with @types/node in the graph (via @types/ws) the overloads differ.
  if (message === undefined) deepStrictEqual(actual, expected);
  else deepStrictEqual(actual, expected, message);
}

/** Truthiness. */
export function assert(value: unknown, message = "expected a truthy value"): asserts value {
  if (!value) throw new AssertionError({ message });
}

/** `fn` throws an instance of `type` (and the message includes `includes`, when given). */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any -- any constructor of an Error subclass
  type: new (...args: any[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) {
      throw new AssertionError({ message: `expected ${type.name}, got ${String(err)}` });
    }
    if (includes && !err.message.includes(includes)) {
      throw new AssertionError({ message: `"${err.message}" does not include "${includes}"` });
    }
    return err;
  }
  throw new AssertionError({ message: `expected ${type.name} to be thrown` });
}

/** Async `fn` rejects with an instance of `type`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any -- any constructor of an Error subclass
  type: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof type)) {
      throw new AssertionError({ message: `expected ${type.name}, got ${String(err)}` });
    }
    if (includes && !err.message.includes(includes)) {
      throw new AssertionError({ message: `"${err.message}" does not include "${includes}"` });
    }
    return err;
  }
  throw new AssertionError({ message: `expected ${type.name} to be rejected` });
}
