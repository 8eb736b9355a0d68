/**
 * Typed reading of decoded CBOR values at a boundary: a {@link Shape}
 * describes what a value must be (text of bounded length, a whole number in
 * a range, a map with these fields...) and {@link readShape} checks a value
 * against it once, where it enters, and returns it typed. Code behind the
 * boundary takes the typed value and never re-reads a loose dictionary.
 *
 * @example
 * ```ts
 * import { optional, readShape, record, text, whole } from "./shape.ts";
 * const JOIN = record({ name: text(32), listenPort: optional(whole(1, 65535)) });
 * const req = readShape(JOIN, { name: "office" }, (why) => new Error(why)); // { name: "office" }
 * ```
 *
 * @module
 */
import type { Parm } from "./codec.ts";

/** What a value must be, and how to read one typed. */
export interface Shape<T> {
  /** Says what the value must be, for error messages ("text", "a whole number"). */
  readonly wants: string;
  /** Returns the value typed, or throws a {@link ShapeMismatch} naming `path`. */
  read(value: unknown, path: string): T;
}

/** The type a shape reads. */
export type ShapeType<S> = S extends Shape<infer T> ? T : never;

/** Thrown by {@link Shape.read}; {@link readShape} turns it into the caller's error. */
export class ShapeMismatch extends Error {
  /** `path` must be `wants`. */
  constructor(path: string, wants: string) {
    super(`${path} must be ${wants}`);
    this.name = "ShapeMismatch";
  }
}

function shape<T>(wants: string, test: (value: unknown) => value is T): Shape<T> {
  return {
    wants,
    read(value, path) {
      if (!test(value)) throw new ShapeMismatch(path, wants);
      return value;
    },
  };
}

/** Text of at most `max` characters, matching `pattern` when given. */
export function text(max = 1024, pattern?: RegExp): Shape<string> {
  return shape(
    `text of at most ${max} characters${pattern ? " in the right form" : ""}`,
    (v): v is string => typeof v === "string" && v.length <= max && (!pattern || pattern.test(v)),
  );
}

/** A whole number from `min` to `max`. */
export function whole(min = 0, max = Number.MAX_SAFE_INTEGER): Shape<number> {
  return shape(
    `a whole number from ${min} to ${max}`,
    (v): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max,
  );
}

/** True or false. */
export const bool: Shape<boolean> = shape(
  "true or false",
  (v): v is boolean => typeof v === "boolean",
);

/** A byte string of at most `max` bytes. */
export function bytes(max: number): Shape<Uint8Array> {
  return shape(
    `a byte string of at most ${max} bytes`,
    (v): v is Uint8Array => v instanceof Uint8Array && v.length <= max,
  );
}

/** One of the given texts. */
export function oneOf<const T extends string>(choices: readonly T[]): Shape<T> {
  return shape(
    `one of ${choices.join(", ")}`,
    (v): v is T => typeof v === "string" && (choices as readonly string[]).includes(v),
  );
}

/** `inner`, or undefined when the value is absent (undefined or null). */
export function optional<T>(inner: Shape<T>): Shape<T | undefined> {
  return {
    wants: `${inner.wants}, or nothing`,
    read: (value, path) =>
      value === undefined || value === null ? undefined : inner.read(value, path),
  };
}

/** `inner`, or null when the value is absent (undefined or null). */
export function nullable<T>(inner: Shape<T>): Shape<T | null> {
  return {
    wants: `${inner.wants}, or null`,
    read: (value, path) => value === undefined || value === null ? null : inner.read(value, path),
  };
}

/** An array of at most `max` items, each `item`. */
export function list<T>(item: Shape<T>, max: number): Shape<T[]> {
  return {
    wants: `a list of at most ${max} items`,
    read(value, path) {
      if (!Array.isArray(value) || value.length > max) throw new ShapeMismatch(path, this.wants);
      return value.map((v, i) => item.read(v, `${path}[${i}]`));
    },
  };
}

type OptionalKeys<F> = {
  [K in keyof F]: undefined extends ShapeType<F[K]> ? K : never;
}[keyof F];
type Fields<F> =
  & { [K in Exclude<keyof F, OptionalKeys<F>>]: ShapeType<F[K]> }
  & { [K in OptionalKeys<F>]?: ShapeType<F[K]> };

/**
 * A map with exactly these fields (others are refused); a field whose shape
 * allows undefined may be absent, and is then left out of the result.
 */
export function record<F extends Record<string, Shape<unknown>>>(fields: F): Shape<Fields<F>> {
  return {
    wants: "a map",
    read(value, path) {
      // A plain map of text keys only: not a Map (other keys), a CID, a Tagged, a CborFloat.
      if (
        typeof value !== "object" || value === null ||
        Object.getPrototypeOf(value) !== Object.prototype
      ) {
        throw new ShapeMismatch(path, "a map");
      }
      const map = value as Record<string, unknown>;
      for (const key of Object.keys(map)) {
        if (!Object.hasOwn(fields, key)) {
          throw new ShapeMismatch(`${path}.${key.slice(0, 40)}`, "absent (unknown field)");
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(fields)) {
        const read = field.read(Object.hasOwn(map, key) ? map[key] : undefined, `${path}.${key}`);
        if (read !== undefined) out[key] = read;
      }
      return out as Fields<F>;
    },
  };
}

/**
 * Reads `value` as `shape`; a mismatch becomes `fail(why)` (one line, e.g.
 * `join.listenPort must be a whole number from 1 to 65535`).
 */
export function readShape<T>(
  shape: Shape<T>,
  value: unknown,
  fail: (why: string) => Error,
  path = "value",
): T {
  try {
    return shape.read(value, path);
  } catch (err) {
    if (err instanceof ShapeMismatch) throw fail(err.message);
    throw err;
  }
}

/**
 * A typed value as CBOR data: fields that are undefined are left out (CBOR
 * has no undefined). The inverse of reading it with its shape.
 */
export function toParm(value: unknown): Parm {
  if (Array.isArray(value)) return value.map(toParm);
  if (
    typeof value === "object" && value !== null && !(value instanceof Uint8Array) &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    const out: { [key: string]: Parm } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toParm(v);
    return out;
  }
  return value as Parm;
}
