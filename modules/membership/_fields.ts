/**
 * Checked reads of fields from a decoded CBOR map: each throws a
 * {@link MembershipError} naming the object and the field, so a malformed
 * record or token is refused with a clear line instead of a type error later.
 *
 * @module
 */
import { type CID, isHash, type Parm } from "../../kernel/mod.ts";
import { MembershipError } from "./errors.ts";

/** Reads typed fields of one decoded map. */
export class Fields {
  readonly #map: { [key: string]: Parm };
  readonly #what: string;
  /** Reads `map`; errors name it as `what`. */
  constructor(map: { [key: string]: Parm }, what: string) {
    this.#map = map;
    this.#what = what;
  }

  #fail(key: string, want: string): never {
    throw new MembershipError(`${this.#what} is malformed: field "${key}" must be ${want}`);
  }

  /** True when the map has `key`. */
  has(key: string): boolean {
    return Object.hasOwn(this.#map, key);
  }

  /** A string of at most `max` characters matching `pattern` when given. */
  string(key: string, max = 256, pattern?: RegExp): string {
    const value = this.#map[key];
    if (typeof value !== "string" || value.length > max || (pattern && !pattern.test(value))) {
      this.#fail(
        key,
        `a string of at most ${max} characters${pattern ? " in the right form" : ""}`,
      );
    }
    return value;
  }

  /** {@link string}, or undefined when absent. */
  optionalString(key: string, max = 256, pattern?: RegExp): string | undefined {
    return this.has(key) ? this.string(key, max, pattern) : undefined;
  }

  /** A non-negative safe integer. */
  integer(key: string): number {
    const value = this.#map[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      this.#fail(key, "a non-negative integer");
    }
    return value;
  }

  /** A boolean. */
  boolean(key: string): boolean {
    const value = this.#map[key];
    if (typeof value !== "boolean") this.#fail(key, "a boolean");
    return value;
  }

  /** A byte string whose length is within [min, max]. */
  bytes(key: string, min: number, max: number): Uint8Array {
    const value = this.#map[key];
    if (!(value instanceof Uint8Array) || value.length < min || value.length > max) {
      this.#fail(key, min === max ? `${min} bytes` : `${min} to ${max} bytes`);
    }
    return value;
  }

  /** {@link bytes}, or undefined when absent. */
  optionalBytes(key: string, min: number, max: number): Uint8Array | undefined {
    return this.has(key) ? this.bytes(key, min, max) : undefined;
  }

  /** A CID. */
  hash(key: string): CID {
    const value = this.#map[key];
    if (!isHash(value)) this.#fail(key, "a hash");
    return value;
  }

  /** An array of at most `max` CIDs. */
  hashes(key: string, max: number): CID[] {
    const value = this.#map[key];
    if (!Array.isArray(value) || value.length > max || !value.every(isHash)) {
      this.#fail(key, `an array of at most ${max} hashes`);
    }
    return value as CID[];
  }

  /** An array of at most `max` strings of at most `maxLength` characters. */
  strings(key: string, max: number, maxLength = 256): string[] {
    const value = this.#map[key];
    if (
      !Array.isArray(value) || value.length > max ||
      !value.every((v) => typeof v === "string" && v.length <= maxLength)
    ) {
      this.#fail(key, `an array of at most ${max} strings`);
    }
    return value as string[];
  }

  /** Refuses any key not in `allowed`. */
  only(allowed: readonly string[]): void {
    for (const key of Object.keys(this.#map)) {
      if (!allowed.includes(key)) {
        throw new MembershipError(`${this.#what} is malformed: unknown field "${key}"`);
      }
    }
  }
}
