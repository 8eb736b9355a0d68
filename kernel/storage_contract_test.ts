/**
 * The storage contract: one table of cases, run against every Storage
 * implementation (the filesystem, memory, and OPFS over an in-memory OPFS
 * adapter), so a kernel behaves the same on any of them.
 */
import { assert, assertEquals, assertRejects } from "./_testing_assert.ts";
import { FsStorage } from "./fs_storage.ts";
import { MemoryStorage, type Storage } from "./storage.ts";
import { OpfsStorage } from "./opfs_storage.ts";
import { MemoryDirectoryHandle, MemoryFileHandle } from "./_testing_opfs.ts";
import { Cas } from "./cas.ts";
import { hashBytes } from "./hash.ts";
import { CacheKeyError } from "./errors.ts";

const enc = (t: string) => new TextEncoder().encode(t);
const dec = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

interface Backend {
  name: string;
  open(): Promise<{ storage: Storage; close(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: "FsStorage",
    async open() {
      const root = await Deno.makeTempDir({ prefix: "grid-storage-" });
      return {
        storage: new FsStorage(root),
        close: () => Deno.remove(root, { recursive: true }),
      };
    },
  },
  {
    name: "MemoryStorage",
    open: () => Promise.resolve({ storage: new MemoryStorage(), close: () => Promise.resolve() }),
  },
  {
    name: "OpfsStorage (in-memory OPFS adapter)",
    open: () =>
      Promise.resolve({
        storage: new OpfsStorage(new MemoryDirectoryHandle()),
        close: () => Promise.resolve(),
      }),
  },
];

const CASES: [string, (s: Storage) => Promise<void>][] = [
  ["a missing path reads as undefined", async (s) => {
    assertEquals(await s.read("nope"), undefined);
    assertEquals(await s.read("no/such/dir/file"), undefined);
  }],
  ["what is written reads back", async (s) => {
    await s.write("a", enc("alpha"));
    assertEquals(dec(await s.read("a")), "alpha");
  }],
  ["an empty file reads back empty, not missing", async (s) => {
    await s.write("empty", new Uint8Array());
    assertEquals((await s.read("empty"))?.length, 0);
  }],
  ["an overwrite replaces the bytes whole, shorter or longer", async (s) => {
    await s.write("f", enc("a much longer first version"));
    await s.write("f", enc("short"));
    assertEquals(dec(await s.read("f")), "short");
    await s.write("f", enc("longer again"));
    assertEquals(dec(await s.read("f")), "longer again");
  }],
  ["a write creates parent directories", async (s) => {
    await s.write("x/y/z", enc("deep"));
    assertEquals(dec(await s.read("x/y/z")), "deep");
  }],
  ["remove deletes, and removing what is gone succeeds", async (s) => {
    await s.write("d/r", enc("bye"));
    await s.remove("d/r");
    assertEquals(await s.read("d/r"), undefined);
    await s.remove("d/r");
    await s.remove("never/was");
  }],
  ["list names what is directly under a directory", async (s) => {
    await s.write("l/one", enc("1"));
    await s.write("l/two", enc("2"));
    await s.write("l/sub/three", enc("3"));
    assertEquals((await s.list("l")).sort(), ["one", "sub", "two"]);
    assertEquals(await s.list("missing"), []);
    assert((await s.list("")).includes("l"));
  }],
  ["stored bytes are copies: later changes to either array do not leak", async (s) => {
    const data = enc("original");
    await s.write("c", data);
    data[0] = 0;
    const got = (await s.read("c"))!;
    got[1] = 0;
    assertEquals(dec(await s.read("c")), "original");
  }],
  ["concurrent writes to one path leave one whole version", async (s) => {
    const versions = Array.from({ length: 8 }, (_, i) => enc(String(i).repeat(1000 + i)));
    await Promise.all(versions.map((v) => s.write("race", v)));
    const got = dec(await s.read("race"))!;
    assert(versions.some((v) => dec(v) === got), "a mix of versions");
  }],
  ["a CAS over it verifies what it stores", async (s) => {
    const cas = new Cas(s);
    const cid = await cas.put(enc("content"));
    assertEquals(cid.toString(), hashBytes(enc("content")).toString());
    assertEquals(dec(await cas.get(cid)), "content");
    await s.write(`cas/${cid}`, enc("tampered"));
    assertEquals(await cas.get(cid), undefined);
    assertEquals(cas.dropped, 1);
  }],
];

for (const backend of BACKENDS) {
  Deno.test(`storage contract: ${backend.name}`, async (t) => {
    for (const [name, run] of CASES) {
      await t.step(name, async () => {
        const { storage, close } = await backend.open();
        try {
          await run(storage);
        } finally {
          await close();
        }
      });
    }
  });
}

Deno.test("OpfsStorage: a write that fails keeps the old bytes", async () => {
  const root = new MemoryDirectoryHandle();
  const storage = new OpfsStorage(root);
  await storage.write("f", enc("old"));
  const file = root.entries.get("f") as MemoryFileHandle;
  file.failNextWrite = new Error("disk full");
  await assertRejects(() => storage.write("f", enc("new")), Error, "disk full");
  assertEquals(dec(await storage.read("f")), "old");
});

Deno.test("OpfsStorage: unsafe paths are refused before OPFS is touched", async () => {
  const root = new MemoryDirectoryHandle();
  const storage = new OpfsStorage(root);
  for (const path of ["../x", "a/../../b", "/abs", "a//b", ".", "a b"]) {
    await assertRejects(() => storage.write(path, enc("x")), CacheKeyError);
  }
  assertEquals(root.entries.size, 0);
});

Deno.test("OpfsStorage: a file where a directory is expected reads as missing", async () => {
  const storage = new OpfsStorage(new MemoryDirectoryHandle());
  await storage.write("f", enc("file"));
  assertEquals(await storage.read("f/child"), undefined);
  assertEquals(await storage.list("f"), []);
});
