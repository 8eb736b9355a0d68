import { isDeepStrictEqual } from "node:util";
import { decode as cborDecode, encode as cborEncode, Tagged } from "cborg";
import { assert, assertEquals, assertThrows } from "./_testing_assert.ts";
import {
  CborFloat,
  CID_TAG,
  decodeMessage,
  decodeValue,
  encodedSizeBound,
  encodeMessage,
  encodeValue,
  encodeValueInto,
  GRID_TAG,
  MAX_DEPTH,
  MAX_MESSAGE_BYTES,
  type Parm,
  type Parms,
  withoutFastPaths,
} from "./codec.ts";
import { CodecError } from "./errors.ts";
import { CID, hashText } from "./hash.ts";
import { GIVE_UP, readAll, writeValue } from "./_cbor_fast.ts";

const P = hashText("a promise");
const M = hashText("a module");
/** The 5-byte header of every grid message: major type 6, 4-byte tag number "grid". */
const HEADER = [0xda, 0x67, 0x72, 0x69, 0x64];

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => p instanceof Uint8Array ? p : new Uint8Array(p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** The CBOR bytes of tag 42 around P, as the codec writes it. */
const P_TAG = encodeValue(P);
/** `grid([` with an array header of `n` items (n < 24). */
function envelope(n: number): number[] {
  return [...HEADER, 0x80 + n];
}

/** Maps a decoded value to plain data that deepStrictEqual can compare (and JSON can show). */
function plain(value: unknown): unknown {
  if (value instanceof CID) return { cid: value.toString() };
  if (value instanceof Uint8Array) return { hex: value.toHex() };
  if (typeof value === "bigint") return { bigint: String(value) };
  if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0))) {
    return { float: Object.is(value, -0) ? "-0" : String(value) };
  }
  if (value instanceof CborFloat) return { float: String(value.value) };
  if (value instanceof Tagged) return { tag: value.tag, value: plain(value.value) };
  if (value instanceof Map) return { map: [...value].map(([k, v]) => [plain(k), plain(v)]) };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** True when `value` is a well-formed Parm: what decode may hand back, nothing else. */
function isParm(value: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return true;
  if (typeof value === "bigint") return !Number.isSafeInteger(Number(value));
  if (value instanceof CborFloat) return Number.isSafeInteger(value.value);
  if (value instanceof CID || value instanceof Uint8Array) return true;
  if (value instanceof Tagged) return value.tag !== CID_TAG && isParm(value.value, depth + 1);
  if (value instanceof Map) {
    return [...value].every(([k, v]) => isParm(k, depth + 1) && isParm(v, depth + 1)) &&
      [...value.keys()].some((k) => typeof k !== "string");
  }
  if (Array.isArray(value)) return value.every((v) => isParm(v, depth + 1));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every((v) => isParm(v, depth + 1));
  }
  return false;
}

function isParms(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 && value[0] instanceof CID && isParm(value);
}

function nested(depth: number): Parm {
  let value: Parm = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const ROUND_TRIPS: [string, Parms][] = [
  ["promise only", [P]],
  ["promise and module", [P, M]],
  ["strings", [P, M, "", "text", "ünïcødé ✓ 🧭", "a/b/../c", "\u0000nul", "\uFFFD replacement"]],
  ["integers", [P, M, 0, 1, -1, 23, 24, 255, 256, 65536, 2 ** 32, Number.MAX_SAFE_INTEGER]],
  ["negative integers", [P, M, -24, -25, -(2 ** 32), Number.MIN_SAFE_INTEGER]],
  ["floats", [P, M, 1.5, -0.25, 3.141592653589793, 1e300]],
  ["booleans and null", [P, M, true, false, null]],
  ["empty and small bytes", [P, M, new Uint8Array(), new Uint8Array([0, 255, 1])]],
  ["1 KiB payload", [P, M, new Uint8Array(1024).map((_, i) => i)]],
  ["64 KiB payload", [P, M, new Uint8Array(65536).map((_, i) => i * 7)]],
  ["nested arrays", [P, M, [], [[]], [1, [2, [3, "x"]]]]],
  ["maps", [P, M, {}, { a: 1, b: "two", c: [true] }, { "": null, "ü": { deep: {} } }]],
  ["CIDs inside args, arrays and maps", [P, M, P, [M, P], { cid: M, list: [P] }]],
  ["nesting at the depth limit", [P, M, nested(MAX_DEPTH - 3)]],
];

Deno.test("encodeMessage() and decodeMessage() round-trip many shapes", async (t) => {
  for (const [name, parms] of ROUND_TRIPS) {
    await t.step(name, () => {
      const back = decodeMessage(encodeMessage(parms));
      assertEquals(plain(back), plain(parms));
      assert(back[0] instanceof CID, "slot 0 decodes to a real CID");
    });
  }
});

Deno.test("encodeValue() and decodeValue() round-trip records", () => {
  const record: Parm = { grid: "record/v1", at: 17, ids: [P, M], blob: new Uint8Array([9]) };
  assertEquals(plain(decodeValue(encodeValue(record))), plain(record));
});

Deno.test("encodeValue() is deterministic: map key order does not change the bytes", () => {
  assertEquals(encodeValue({ b: 1, a: 2 }).toHex(), encodeValue({ a: 2, b: 1 }).toHex());
});

Deno.test("encodeMessage() output starts with da 67 72 69 64, the tag that spells grid", () => {
  const bytes = encodeMessage([P, M, "x"]);
  assertEquals([...bytes.subarray(0, 5)], HEADER);
  assertEquals(GRID_TAG, 0x67726964);
  assertEquals(new TextDecoder().decode(bytes.subarray(1, 5)), "grid");
  // slot 0: tag 42 (d8 2a) around a byte string whose first byte is 0x00
  assertEquals([...bytes.subarray(6, 8)], [0xd8, CID_TAG]);
  assertEquals(bytes[10], 0x00);
});

Deno.test("decodeMessage() rejects input truncated at every cut point", async (t) => {
  const samples: [string, Parms][] = [
    ["short", [P, M]],
    ["text", [P, M, "x".repeat(100)]],
    ["map and bytes", [P, M, { k: new Uint8Array([1, 2, 3]), n: [1, 2] }, 1.5]],
  ];
  for (const [name, parms] of samples) {
    await t.step(name, () => {
      const bytes = encodeMessage(parms);
      for (let cut = 0; cut < bytes.length; cut++) {
        assertThrows(() => decodeMessage(bytes.subarray(0, cut)), CodecError);
      }
    });
  }
});

const GARBAGE: [string, Uint8Array][] = [
  ["empty input", new Uint8Array()],
  ["a lone break byte", new Uint8Array([0xff])],
  ["a reserved additional-info byte", new Uint8Array([0x1c])],
  ["JSON text", new TextEncoder().encode('["promise","module"]')],
  ["the header alone", new Uint8Array(HEADER)],
  ["trailing bytes after a valid message", concat(encodeMessage([P]), [0x00])],
  ["two messages back to back", concat(encodeMessage([P]), encodeMessage([P]))],
  ["an integer in more bytes than needed", concat(envelope(2), P_TAG, [0x18, 0x01])],
  ["an array claiming 2^32 items", concat(envelope(2), P_TAG, [0x9a, 0xff, 0xff, 0xff, 0xff])],
  ["a string claiming 2^32 bytes", concat(envelope(2), P_TAG, [0x7a, 0xff, 0xff, 0xff, 0xff])],
  ["invalid UTF-8 in a text string", concat(envelope(2), P_TAG, [0x62, 0xc3, 0x28])],
  ["invalid UTF-8 in a map key", concat(envelope(2), P_TAG, [0xa1, 0x62, 0xc3, 0x28, 0x01])],
  ["a grid tag in a record", concat([0x81], HEADER, [0x81], P_TAG)],
];

Deno.test("decodeMessage() rejects garbage with a CodecError", async (t) => {
  for (const [name, bytes] of GARBAGE) {
    await t.step(name, () => {
      assertThrows(() => decodeMessage(bytes), CodecError);
    });
  }
  await t.step("a value that is not bytes", () => {
    assertThrows(() => decodeMessage("grid" as unknown as Uint8Array), CodecError);
  });
});

const UNSAFE: [string, Uint8Array][] = [
  ["duplicate map keys", concat(envelope(2), P_TAG, [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02])],
  ["an indefinite-length array", concat(envelope(2), P_TAG, [0x9f, 0x01, 0xff])],
  ["an indefinite-length envelope array", concat(HEADER, [0x9f], P_TAG, [0xff])],
  ["an indefinite-length map", concat(envelope(2), P_TAG, [0xbf, 0x61, 0x61, 0x01, 0xff])],
  ["an indefinite-length text string", concat(envelope(2), P_TAG, [0x7f, 0x61, 0x61, 0xff])],
  ["an indefinite-length byte string", concat(envelope(2), P_TAG, [0x5f, 0x41, 0x01, 0xff])],
  ["undefined", concat(envelope(2), P_TAG, [0xf7])],
  ["a NaN with a payload", concat(envelope(2), P_TAG, [0xf9, 0x7e, 0x01])],
  ["a NaN as a float32", concat(envelope(2), P_TAG, [0xfa, 0x7f, 0xc0, 0, 0])],
  ["Infinity as a float64", concat(envelope(2), P_TAG, [0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0])],
  ["1.5 as a float32", concat(envelope(2), P_TAG, [0xfa, 0x3f, 0xc0, 0, 0])],
  ["map keys out of order", concat(envelope(2), P_TAG, [0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])],
  [
    "a 2^32 tag number in nine bytes",
    concat(envelope(2), P_TAG, [0xdb, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
  ],
];

Deno.test("decodeMessage() rejects duplicate keys, indefinite lengths, undefined and non-canonical forms", async (t) => {
  for (const [name, bytes] of UNSAFE) {
    await t.step(name, () => {
      assertThrows(() => decodeMessage(bytes), CodecError);
    });
  }
});

/** A map that quacks like a CID: CID.asCID() would take it, the codec must not. */
const FAKE_CID = {
  "/": "ab",
  bytes: "ab",
  version: 1,
  code: 0x55,
  multihash: { code: 0x12, size: 32, digest: P.multihash.digest, bytes: P.multihash.bytes },
};

const NOT_ENVELOPES: [string, Uint8Array][] = [
  ["a plain array of CIDs (no grid tag)", encodeValue([P, M])],
  ["another tag around the array", cborEncode(new Tagged(1, [0]))],
  ["a grid tag holding a CID, not an array", concat(HEADER, P_TAG)],
  ["a grid tag holding a string", concat(HEADER, [0x61, 0x61])],
  ["a grid tag holding an empty array", concat(envelope(0))],
  ["a grid envelope nested in slot 1", concat(envelope(2), P_TAG, HEADER, [0x81], P_TAG)],
  [
    "a grid envelope nested in a map",
    concat(envelope(2), P_TAG, [0xa1, 0x61, 0x61], HEADER, [0x81], P_TAG),
  ],
  ["a grid envelope inside an array", concat([0x81], envelope(1), P_TAG)],
  ["slot 0 a text string", concat(envelope(1), [0x61, 0x61])],
  ["slot 0 an integer", concat(envelope(1), [0x01])],
  ["slot 0 raw CID bytes without tag 42", concat(envelope(1), encodeValue(P.bytes))],
  ["slot 0 a map that looks like a CID", concat(envelope(1), cborEncode(FAKE_CID))],
  [
    "tag 42 without the 0x00 prefix",
    concat(envelope(1), [0xd8, 0x2a, 0x58, P.bytes.length], P.bytes),
  ],
  ["tag 42 holding a text string", concat(envelope(1), [0xd8, 0x2a, 0x61, 0x61])],
  ["tag 42 holding a lone 0x00", concat(envelope(1), [0xd8, 0x2a, 0x41, 0x00])],
  ["tag 42 holding bytes that are no CID", concat(envelope(1), [0xd8, 0x2a, 0x44, 0, 1, 2, 3])],
  [
    "tag 42 holding a CID plus a trailing byte",
    concat(envelope(1), [0xd8, 0x2a, 0x58, P.bytes.length + 2, 0], P.bytes, [7]),
  ],
];

Deno.test("decodeMessage() rejects anything but grid([42(cid), ...])", async (t) => {
  for (const [name, bytes] of NOT_ENVELOPES) {
    await t.step(name, () => {
      assertThrows(() => decodeMessage(bytes), CodecError);
    });
  }
});

Deno.test("decodeValue() refuses a grid envelope: records are never messages", () => {
  assertThrows(() => decodeValue(encodeMessage([P])), CodecError);
});

Deno.test("decodeMessage() enforces the size limit before parsing", () => {
  const bytes = encodeMessage([P, M, new Uint8Array(1000)]);
  assertThrows(() => decodeMessage(bytes, { maxBytes: 999 }), CodecError, "limit");
  assertEquals(decodeMessage(bytes, { maxBytes: bytes.length }).length, 3);
  // Default limit: one byte over 16 MiB is refused without being read (all zero bytes).
  const huge = new Uint8Array(MAX_MESSAGE_BYTES + 1);
  assertThrows(() => decodeMessage(huge), CodecError, "limit");
});

Deno.test("encodeMessage() refuses a message no peer would accept", async (t) => {
  const cases: [string, unknown][] = [
    ["over the size limit", new Uint8Array(MAX_MESSAGE_BYTES)],
    ["undefined", undefined],
    ["a bigint past 64 bits", 1n << 64n],
    ["a tag 42 that is not a CID", new Tagged(42, new Uint8Array([0, 1]))],
    ["a grid envelope inside", new Tagged(GRID_TAG, [P])],
    ["a Set", new Set([1])],
    ["a function", () => 1],
    ["undefined inside a map", { a: undefined }],
    ["a string with a lone surrogate", "\uD800"],
  ];
  for (const [name, arg] of cases) {
    await t.step(name, () => {
      assertThrows(() => encodeMessage([P, M, arg as Parm]), CodecError);
    });
  }
  await t.step("slot 0 not a CID", () => {
    assertThrows(() => encodeMessage(["x"] as unknown as Parms), CodecError);
    assertThrows(() => encodeMessage([FAKE_CID] as unknown as Parms), CodecError);
  });
});

Deno.test("decode enforces the depth limit", async (t) => {
  await t.step("nesting up to maxDepth is read, one more is refused", () => {
    for (const limit of [1, 5, MAX_DEPTH]) {
      assertEquals(
        plain(decodeValue(encodeValue(nested(limit)), { maxDepth: limit })),
        plain(nested(limit)),
      );
      assertThrows(
        () => decodeValue(encodeValue(nested(limit + 1)), { maxDepth: limit }),
        CodecError,
        "deeper",
      );
    }
  });
  await t.step("a message nesting 200000 arrays deep is a CodecError, not a stack overflow", () => {
    const deep = concat(envelope(2), P_TAG, new Uint8Array(200_000).fill(0x81), [0x01]);
    // Without the limit, cborg recurses once per level and exhausts the stack.
    assertThrows(() => cborDecode(new Uint8Array(200_000).fill(0x81)), RangeError);
    assertThrows(() => decodeMessage(deep), CodecError, "deeper");
  });
  await t.step("200000 nested tags are refused too", () => {
    const tags = new Uint8Array(400_000);
    for (let i = 0; i < tags.length; i += 2) tags.set([0xd8, CID_TAG], i);
    assertThrows(() => decodeMessage(concat(envelope(2), P_TAG, tags, [0x41, 0x00])), CodecError);
  });
});

/** Applies 1-4 random edits (flip, overwrite, insert, delete, truncate, repeat). */
function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * bytes.length);
    switch (Math.floor(rand() * 6)) {
      case 0:
        bytes[at] ^= 1 << Math.floor(rand() * 8);
        break;
      case 1:
        bytes[at] = Math.floor(rand() * 256);
        break;
      case 2:
        bytes = concat(bytes.subarray(0, at), [Math.floor(rand() * 256)], bytes.subarray(at));
        break;
      case 3:
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1));
        break;
      case 4:
        bytes = bytes.slice(0, at);
        break;
      default: {
        const end = Math.min(bytes.length, at + 1 + Math.floor(rand() * 8));
        bytes = concat(bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end));
      }
    }
  }
  return bytes;
}

/** Decodes and classifies: "ok" (valid parms), "codec" (CodecError) or a failure text. */
function classify(bytes: Uint8Array): string {
  let value: unknown;
  try {
    value = decodeMessage(bytes);
  } catch (err) {
    return err instanceof CodecError ? "codec" : `threw ${String(err)}`;
  }
  if (!isParms(value)) return `returned invalid parms ${String(value)}`;
  // Whatever the decoder accepts, the encoder can write again, and it reads back the same.
  try {
    const bytesAgain = encodeMessage(value as Parms);
    // Only canonical bytes decode, so they are the very bytes the encoder writes.
    if (bytesAgain.toHex() !== bytes.toHex()) return "decoded bytes that are not canonical";
    const again = decodeMessage(bytesAgain);
    if (!isDeepStrictEqual(plain(again), plain(value))) {
      return "changed on re-encoding";
    }
  } catch (err) {
    return `could not be re-encoded: ${String(err)}`;
  }
  return "ok";
}

/** A random Parm tree: every kind of value the codec carries, nested up to `depth`. */
function randomParm(rand: () => number, depth: number): Parm {
  const pick = Math.floor(rand() * (depth > 0 ? 10 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.floor((rand() - 0.5) * 2 ** (1 + Math.floor(rand() * 53)));
    case 3:
      return (rand() - 0.5) * 10 ** Math.floor(rand() * 20 - 10);
    case 4: {
      let text = "";
      for (let i = Math.floor(rand() * 12); i > 0; i--) {
        const range = rand() < 0.7 ? 0x80 : rand() < 0.5 ? 0xd7ff : 0x10ffff;
        let code = Math.floor(rand() * range);
        if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd; // no lone surrogates
        text += String.fromCodePoint(code);
      }
      return text;
    }
    case 5:
      return randomBytes(rand, Math.floor(rand() * 40));
    case 6:
    case 7:
      return hashText(String(rand()));
    case 8:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomParm(rand, depth - 1));
    default: {
      const map: Record<string, Parm> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) {
        map[`k${Math.floor(rand() * 100)}`] = randomParm(rand, depth - 1);
      }
      return map;
    }
  }
}

Deno.test("encodeMessage() and decodeMessage() round-trip 2000 random messages", () => {
  const rand = prng(0x67726964 + 2);
  for (let i = 0; i < 2000; i++) {
    const parms = [
      hashText(`p${i}`),
      ...Array.from({ length: Math.floor(rand() * 5) }, () => randomParm(rand, 5)),
    ] as Parms;
    const back = decodeMessage(encodeMessage(parms));
    assertEquals(plain(back), plain(parms), `message #${i}`);
  }
});

Deno.test("decodeMessage() on random and mutated input returns valid parms or throws CodecError", async (t) => {
  const SEED = 0x67726964;
  const seeds = ROUND_TRIPS.map(([, parms]) => encodeMessage(parms)).filter((b) => b.length < 4096);
  const failures: string[] = [];
  const counts = { ok: 0, codec: 0 };
  const check = (label: string, bytes: Uint8Array) => {
    const started = performance.now();
    const result = classify(bytes);
    const took = performance.now() - started;
    if (result === "ok" || result === "codec") counts[result]++;
    else failures.push(`${label}: ${result} for ${bytes.toHex().slice(0, 2000)}`);
    if (took > 250) failures.push(`${label}: took ${took.toFixed(0)} ms`);
  };
  await t.step("5000 random byte strings (half behind a grid header)", () => {
    const rand = prng(SEED);
    for (let i = 0; i < 5000; i++) {
      const body = randomBytes(rand, Math.floor(rand() * 64));
      check(`seed ${SEED} random #${i}`, i % 2 ? concat(HEADER, body) : body);
    }
  });
  await t.step("5000 mutations of valid messages", () => {
    const rand = prng(SEED + 1);
    for (let i = 0; i < 5000; i++) {
      check(`seed ${SEED + 1} mutation #${i}`, mutate(rand, seeds[i % seeds.length]));
    }
  });
  assertEquals(failures.slice(0, 5), []);
  // The mutations must reach both outcomes, or the test proves little.
  assert(counts.ok > 50, `only ${counts.ok} mutated inputs decoded`);
  assert(counts.codec > 5000, `only ${counts.codec} inputs were rejected`);
});

Deno.test("decodeMessage() reuses a CID decoded from the same bytes, and only from the same bytes", () => {
  const a = hashText("interned a");
  const b = hashText("interned b");
  const first = decodeMessage(encodeMessage([a, b, a]));
  const second = decodeMessage(encodeMessage([a, b]));
  assert(first[0] === first[2], "the same hash twice in one message is one instance");
  assert(first[0] === second[0], "the same hash in a later message is the same instance");
  assert(first[1] === second[1]);
  assert(first[0] !== first[1], "different bytes, different CIDs");
  assert(a.equals(first[0]) && b.equals(first[1]));
  assertEquals(first[0].toString(), a.toString());
});

Deno.test("decodeMessage() stays correct after the CID table fills and empties", () => {
  const cids = Array.from({ length: 5000 }, (_, i) => hashText(`many ${i}`));
  for (const cid of cids) {
    const got = decodeMessage(encodeMessage([cid]))[0];
    assert(cid.equals(got), `decoded ${got} for ${cid}`);
  }
  const again = decodeMessage(encodeMessage([cids[0], cids[4999]]));
  assert(cids[0].equals(again[0]) && cids[4999].equals(again[1]));
});

Deno.test("encodeMessage() gives the same bytes for a CID on first and later use", () => {
  const cid = hashText("encoded twice");
  const once = encodeMessage([cid, "x"]);
  const twice = encodeMessage([cid, "x"]);
  assertEquals(once, twice);
  assertEquals(encodeMessage([CID.decode(cid.bytes), "x"]), once);
});

/** A random value of what the fast paths write themselves (no floats, no maps), or anything. */
function fastParm(rand: () => number, depth: number): Parm {
  const pick = Math.floor(rand() * (depth > 0 ? 9 : 8));
  switch (pick) {
    case 0:
      return [null, true, false][Math.floor(rand() * 3)];
    case 1: {
      const edges = [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 2 ** 32];
      const n = rand() < 0.5
        ? edges[Math.floor(rand() * edges.length)] + Math.floor(rand() * 3) - 1
        : Math.floor(rand() * 2 ** (1 + Math.floor(rand() * 53)));
      return rand() < 0.3 ? -n - 1 : Math.max(n, 0);
    }
    case 2:
      return [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -(2 ** 32), -25, -24][
        Math.floor(rand() * 5)
      ];
    case 3: {
      let text = rand() < 0.1 ? "\uFEFF" : "";
      const long = rand() < 0.2;
      for (let i = Math.floor(rand() * (long ? 100 : 12)); i > 0; i--) {
        const range = rand() < 0.7 ? 0x80 : rand() < 0.5 ? 0x7ff : 0x10ffff;
        let code = Math.floor(rand() * range);
        if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
        text += String.fromCodePoint(code);
      }
      return text;
    }
    case 4:
      return randomBytes(
        rand,
        rand() < 0.1 ? 300 + Math.floor(rand() * 70_000) : Math.floor(rand() * 40),
      );
    case 5:
    case 6:
      return hashText(String(Math.floor(rand() * 50)));
    case 7:
      return rand() < 0.2 ? randomParm(rand, 2) : hashText("fixed");
    default:
      return Array.from({ length: Math.floor(rand() * 5) }, () => fastParm(rand, depth - 1));
  }
}

/** The outcome of `run` as comparable text: the value (plain) or the error's class and message. */
function outcome(run: () => unknown): string {
  try {
    return JSON.stringify(plain(run()));
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

Deno.test("the fast paths encode exactly as cborg does, and refuse what it refuses", () => {
  const rand = prng(0x67726964 + 7);
  let bytes = 0;
  let written = 0;
  for (let i = 0; i < 3000; i++) {
    const parms = [
      hashText(`p${i % 7}`),
      ...Array.from({ length: Math.floor(rand() * 5) }, () => fastParm(rand, 4)),
    ] as Parms;
    const fast = encodeMessage(parms);
    assertEquals(
      fast.toHex(),
      withoutFastPaths(() => encodeMessage(parms)).toHex(),
      `message #${i}`,
    );
    const value = parms.slice(1) as Parm;
    const plainBytes = encodeValue(value);
    assertEquals(
      plainBytes.toHex(),
      withoutFastPaths(() => encodeValue(value)).toHex(),
      `value #${i}`,
    );
    assert(plainBytes.length <= encodedSizeBound(value), `bound of value #${i}`);
    // Into a buffer at an offset: the same bytes, or -1 when it does not fit.
    const dest = new Uint8Array(plainBytes.length + 3);
    assertEquals(encodeValueInto(value, dest, 3), dest.length);
    assertEquals(dest.subarray(3).toHex(), plainBytes.toHex());
    assertEquals(encodeValueInto(value, new Uint8Array(plainBytes.length + 2), 3), -1);
    bytes += fast.length;
    if (writeValue(new Uint8Array(fast.length + 16), 0, parms, 0) >= 0) written++;
  }
  assert(written > 2000, `only ${written} of 3000 written on the fast path`);
  assert(bytes > 1_000_000, "the random messages should include large payloads");
  const bad: [string, Parm][] = [
    ["undefined", [P, undefined as unknown as Parm]],
    ["undefined in a record", [P, { a: undefined as unknown as Parm }]],
    ["a lone surrogate", [P, "a\ud800b"]],
    ["a bigint past 64 bits", [P, -(1n << 64n) - 1n]],
    ["a Set", [P, new Set() as unknown as Parm]],
    ["a tag 42 that is not a CID", [P, new Tagged(42, 1)]],
  ];
  for (const [name, parms] of bad) {
    const fast = outcome(() => encodeMessage(parms as Parms));
    assert(fast.startsWith("CodecError"), `${name}: ${fast}`);
    assertEquals(fast, outcome(() => withoutFastPaths(() => encodeMessage(parms as Parms))), name);
    assertEquals(
      outcome(() => encodeValueInto(parms, new Uint8Array(100), 0)),
      outcome(() => withoutFastPaths(() => encodeValueInto(parms, new Uint8Array(100), 0))),
      name,
    );
  }
  const cyclic: Parm[] = [1];
  cyclic.push(cyclic);
  assertEquals(encodedSizeBound(cyclic), Infinity);
  assert(outcome(() => encodeValue(cyclic)).startsWith("CodecError"));
});

Deno.test("the fast paths decode exactly as cborg does, and refuse what it refuses", async (t) => {
  const same = (label: string, bytes: Uint8Array) => {
    for (const limits of [{}, { maxDepth: 3 }]) {
      assertEquals(
        outcome(() => decodeMessage(bytes, limits)),
        outcome(() => withoutFastPaths(() => decodeMessage(bytes, limits))),
        `${label} (message, ${JSON.stringify(limits)}): ${bytes.toHex().slice(0, 200)}`,
      );
      assertEquals(
        outcome(() => decodeValue(bytes, limits)),
        outcome(() => withoutFastPaths(() => decodeValue(bytes, limits))),
        `${label} (value, ${JSON.stringify(limits)}): ${bytes.toHex().slice(0, 200)}`,
      );
    }
  };
  const rand = prng(0x67726964 + 8);
  const messages = Array.from(
    { length: 1500 },
    (_, i) =>
      encodeMessage([
        hashText(`m${i % 5}`),
        ...Array.from(
          { length: Math.floor(rand() * 4) },
          () => rand() < 0.8 ? fastParm(rand, 4) : randomParm(rand, 3),
        ),
      ] as Parms),
  );
  await t.step("random messages, their values, and mutations of both", () => {
    // Most of them must take the fast path, or this proves little.
    const fast = messages.filter((bytes) => readAll(bytes, MAX_DEPTH, true) !== GIVE_UP).length;
    assert(fast > 1000, `only ${fast} of ${messages.length} read on the fast path`);
    messages.forEach((bytes, i) => {
      same(`message #${i}`, bytes);
      same(`value #${i}`, bytes.subarray(5));
      for (let m = 0; m < 4; m++) {
        same(
          `mutation ${m} of #${i}`,
          mutate(rand, bytes.length < 5000 ? bytes : bytes.subarray(0, 5000)),
        );
      }
    });
  });
  await t.step("edge cases: minimal heads, 2^53, text, maps, tags", () => {
    const rows: [string, number[]][] = [
      ["1 in two bytes", [0x18, 0x01]],
      ["24 in one byte form", [0x18, 0x18]],
      ["255 in three bytes", [0x19, 0x00, 0xff]],
      ["65535 in five bytes", [0x1a, 0x00, 0x00, 0xff, 0xff]],
      ["2^32-1 in nine bytes", [0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]],
      ["2^53-1", [0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
      ["2^53", [0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0]],
      ["-2^53", [0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
      ["-(2^53-1)", [0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]],
      ["2^64-1", [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
      ["a BOM", [0x64, 0xef, 0xbb, 0xbf, 0x61]],
      ["U+FFFD itself", [0x63, 0xef, 0xbf, 0xbd]],
      ["bad UTF-8", [0x62, 0xc3, 0x28]],
      ["a surrogate in UTF-8", [0x63, 0xed, 0xa0, 0x80]],
      ["an overlong NUL", [0x62, 0xc0, 0x80]],
      ["a map with a duplicate key", [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]],
      ["a map with a __proto__ key", [0xa1, 0x69, ...new TextEncoder().encode("__proto__"), 0x01]],
      ["a map with an integer key", [0xa1, 0x01, 0x02]],
      ["indefinite bytes", [0x5f, 0x41, 0x00, 0xff]],
      ["indefinite array", [0x9f, 0x01, 0xff]],
      ["half float", [0xf9, 0x3c, 0x00]],
      ["undefined", [0xf7]],
      ["simple value 16", [0xf0]],
      ["tag 42 on text", [0xd8, 0x2a, 0x61, 0x00]],
      ["tag 42 without 0x00", [0xd8, 0x2a, 0x42, 0x01, 0x02]],
      ["tag 42 on garbage", [0xd8, 0x2a, 0x43, 0x00, 0x01, 0x02]],
      ["tag 1", [0xc1, 0x01]],
      ["a nested grid tag", [...HEADER, 0x82, ...P_TAG, ...HEADER, 0x80]],
      ["trailing bytes", [...HEADER, 0x81, ...P_TAG, 0x00]],
      ["an array claiming more items than bytes", [0x9a, 0xff, 0xff, 0xff, 0xff]],
      ["empty arrays at the depth limit", [0x81, 0x81, 0x81, 0x80]],
      ["arrays one past the depth limit", [0x81, 0x81, 0x81, 0x81, 0x01]],
      ["a message", [...HEADER, 0x82, ...P_TAG, 0x01]],
    ];
    for (const [name, bytes] of rows) same(name, new Uint8Array(bytes));
  });
  await t.step("byte strings are cut with the input's own slice, as cborg cuts them", () => {
    class Viewing extends Uint8Array {
      static get [Symbol.species](): Uint8ArrayConstructor {
        return Uint8Array;
      }
      override slice(start = 0, end = this.length): Uint8Array<ArrayBuffer> {
        return new Uint8Array(this.buffer as ArrayBuffer, this.byteOffset + start, end - start);
      }
    }
    const bytes = encodeMessage([P, new Uint8Array(100).fill(3)]);
    for (const run of [<T>(f: () => T) => f(), withoutFastPaths]) {
      const input = new Viewing(bytes.length);
      input.set(bytes);
      const got = run(() => decodeMessage(input))[1] as Uint8Array;
      assert(got.buffer === input.buffer, "a view of the input");
      assertEquals(got.length, 100);
    }
  });
});
