import { createHash } from "node:crypto";
import { assert, assertEquals, assertThrows } from "./_testing_assert.ts";
import {
  assertSafePath,
  cacheKey,
  escapeComponent,
  HASHED_PREFIX,
  keyComponent,
  MAX_COMPONENT,
  MAX_COMPONENTS,
} from "./cache_key.ts";
import { encodeValue, type Parm } from "./codec.ts";
import { CacheKeyError } from "./errors.ts";
import { FsStorage } from "./fs_storage.ts";
import { hashText } from "./hash.ts";

const P = hashText("a promise");
const M = hashText("a module");

/** Strings that try to climb out of a directory, hide, or look like something else. */
const ATTACKS: [string, string][] = [
  ["parent directory", ".."],
  ["current directory", "."],
  ["three dots", "..."],
  ["slash", "/"],
  ["absolute path", "/etc/passwd"],
  ["climb", "../../../../etc/passwd"],
  ["backslash climb", "..\\..\\windows"],
  ["backslash", "\\"],
  ["NUL", "\u0000"],
  ["NUL inside", "a\u0000/../b"],
  ["percent-encoded dots", "%2e%2e"],
  ["percent-encoded slash", "..%2f..%2f"],
  ["double-encoded dots", "%252e%252e"],
  ["very long component", "a".repeat(10_000)],
  ["very long climb", "../".repeat(5_000)],
  ["unicode division slash", "\u2215etc\u2215passwd"],
  ["fullwidth full stops", "\uFF0E\uFF0E"],
  ["one dot leader", "\u2024\u2024"],
  ["fullwidth solidus", "\uFF0F"],
  ["right-to-left override", "\u202Etxt.exe"],
  ["right-to-left mark", "\u200F.."],
  ["zero-width joiner", ".\u200D."],
  ["combining acute", "e\u0301"],
  ["precomposed e acute", "\u00E9"],
  ["combining dot above a dot", ".\u0307"],
  ["empty string", ""],
  ["space", " "],
  ["newline", "\n"],
  ["hidden temp name", ".tmp-x"],
  ["tilde", "~"],
  ["upper case", "Foo"],
  ["lower case", "foo"],
  ["percent", "%"],
  ["emoji", "\u{1F9ED}"],
  ["replacement character", "\uFFFD"],
];

/** What a string component may look like: `[a-z0-9_-]` and `%XX`, nothing else. */
const STRING_FORM = /^s%3A(?:[a-z0-9_-]|%[0-9A-F]{2})*$/;

function assertSafeComponent(component: string): void {
  assert(
    component.length > 0 && component.length <= MAX_COMPONENT,
    `bad length ${component.length}`,
  );
  assert(/^[A-Za-z0-9_%-]+$/.test(component), `unsafe characters in "${component}"`);
  assert(component !== "." && component !== "..", "a dot component");
  assertSafePath(component);
}

Deno.test("keyComponent() turns escape attempts into one safe component", async (t) => {
  for (const [name, attack] of ATTACKS) {
    await t.step(name, () => {
      const component = keyComponent(attack);
      assertSafeComponent(component);
      assert(
        STRING_FORM.test(component) || component.startsWith(HASHED_PREFIX),
        `"${component}" is neither spelled out nor hashed`,
      );
    });
  }
});

Deno.test("keyComponent() never maps two different parms to one component", () => {
  const parms: Parm[] = [
    ...ATTACKS.map(([, a]) => a),
    "a".repeat(10_001),
    P,
    M,
    0,
    "0",
    null,
    "null",
    true,
    new Uint8Array(),
    new Uint8Array(96),
    new Uint8Array(97),
    new Uint8Array(1 << 16),
    [],
    {},
    [P],
  ];
  const seen = new Map<string, number>();
  parms.forEach((parm, i) => {
    const component = keyComponent(parm);
    assertSafeComponent(component);
    assertEquals(
      seen.get(component),
      undefined,
      `parm #${i} collides with #${seen.get(component)}`,
    );
    seen.set(component, i);
  });
  // Case-insensitive volumes (macOS) must not merge them either.
  assertEquals(new Set([...seen.keys()].map((c) => c.toLowerCase())).size, seen.size);
});

Deno.test("keyComponent() forms: CID text, s%3A string, v hex, h%3A hash", async (t) => {
  await t.step("a CID is its base32 text", () => {
    assertEquals(keyComponent(P), P.toString());
    assert(/^b[a-z2-7]+$/.test(keyComponent(P)));
  });
  await t.step("a string is s%3A plus its escaped UTF-8", () => {
    assertEquals(keyComponent("a-b_c"), "s%3Aa-b_c");
    assertEquals(keyComponent("A/b"), "s%3A%41%2Fb");
    assertEquals(keyComponent("\u00E9"), "s%3A%C3%A9");
  });
  await t.step("small values are v plus their CBOR in hex", () => {
    assertEquals(keyComponent(1), "v01");
    assertEquals(keyComponent(new Uint8Array([255])), "v41ff");
  });
  await t.step("long values are h%3A plus the sha2-256 of their CBOR", () => {
    for (const parm of [new Uint8Array(97), new Uint8Array(70_000).fill(7), "x".repeat(300)]) {
      const want = createHash("sha256").update(encodeValue(parm)).digest("hex");
      assertEquals(keyComponent(parm), HASHED_PREFIX + want);
    }
  });
  await t.step("two long strings that differ in the last character differ", () => {
    assert(keyComponent("a".repeat(500) + "b") !== keyComponent("a".repeat(500) + "c"));
  });
});

Deno.test("keyComponent() refuses a string with a lone surrogate", () => {
  assertThrows(() => keyComponent("\uD800"), CacheKeyError);
});

Deno.test("escapeComponent() keeps only [a-z0-9_-] raw", () => {
  let all = "";
  for (let c = 0; c < 0x250; c++) all += String.fromCharCode(c);
  const escaped = escapeComponent(all);
  assert(/^(?:[a-z0-9_-]|%[0-9A-F]{2})+$/.test(escaped));
  assertEquals(decodeURIComponent(escaped), all);
});

Deno.test("cacheKey() joins one component per parm and bounds the count", () => {
  assertEquals(cacheKey([P, M, "../x"]), `${P}/${M}/s%3A..%2Fx`.replaceAll("..", "%2E%2E"));
  assertEquals(cacheKey([P, M, "../x"]).split("/").length, 3);
  assertThrows(() => cacheKey([]), CacheKeyError);
  assertEquals(cacheKey(new Array(MAX_COMPONENTS).fill("a")).split("/").length, MAX_COMPONENTS);
  assertThrows(() => cacheKey(new Array(MAX_COMPONENTS + 1).fill("a")), CacheKeyError);
});

Deno.test("a key written through FsStorage lands under the cache root, never outside", async (t) => {
  const base = await Deno.makeTempDir({ prefix: "grid-cache-key-" });
  try {
    const root = `${base}/root`;
    await Deno.mkdir(root);
    const storage = new FsStorage(root);
    for (const [name, attack] of ATTACKS) {
      await t.step(name, async () => {
        const key = cacheKey([P, M, attack]);
        const data = new TextEncoder().encode(name);
        await storage.write(key, data);
        const file = `${root}/${key}`;
        const real = await Deno.realPath(file);
        assert(real.startsWith(`${await Deno.realPath(root)}/`), `"${real}" is outside the root`);
        assertEquals(real.slice(real.length - key.length), key, "the file is exactly at the key");
        assertEquals(await storage.read(key), data);
      });
    }
    // Nothing appeared beside the root, and the root holds exactly one tree per key.
    const beside: string[] = [];
    for await (const entry of Deno.readDir(base)) beside.push(entry.name);
    assertEquals(beside, ["root"]);
    let files = 0;
    const walk = async (dir: string): Promise<void> => {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
        else files++;
      }
    };
    await walk(root);
    assertEquals(files, ATTACKS.length);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

const UNSAFE_PATHS: [string, string][] = [
  ["empty", ""],
  ["dot", "."],
  ["dot dot", ".."],
  ["climb in the middle", "a/../b"],
  ["trailing dot dot", "a/.."],
  ["absolute", "/etc/passwd"],
  ["empty component", "a//b"],
  ["trailing slash", "a/"],
  ["backslash", "a\\b"],
  ["NUL", "a\u0000b"],
  ["space", "a b"],
  ["non-ASCII", "\u00E9"],
  ["unicode dots", "\uFF0E\uFF0E"],
  ["component over 255", "a".repeat(256)],
  ["path over the limit", new Array(MAX_COMPONENTS + 1).fill("a".repeat(MAX_COMPONENT)).join("/")],
];

Deno.test("assertSafePath() refuses unsafe paths", async (t) => {
  for (const [name, path] of UNSAFE_PATHS) {
    await t.step(name, () => {
      assertThrows(() => assertSafePath(path), CacheKeyError);
    });
  }
  await t.step("accepts keys the kernel builds", () => {
    assertSafePath(cacheKey([P, M, "../x", new Uint8Array(500)]));
    assertSafePath(`cas/${P}`);
  });
});

Deno.test("FsStorage refuses unsafe paths on every operation", async () => {
  const root = await Deno.makeTempDir({ prefix: "grid-cache-key-" });
  try {
    const storage = new FsStorage(root);
    for (const path of ["../x", "/x", "a/../../x"]) {
      let refused = 0;
      for (
        const op of [
          () => storage.read(path),
          () => storage.write(path, new Uint8Array(1)),
          () => storage.remove(path),
          () => storage.list(path),
        ]
      ) {
        try {
          await op();
        } catch (err) {
          if (err instanceof CacheKeyError) refused++;
          else throw err;
        }
      }
      assertEquals(refused, 4, `not every operation refused "${path}"`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
