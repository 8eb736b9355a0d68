import { assert, assertEquals, assertRejects } from "./_testing_assert.ts";
import { Cas, DAG_CBOR, MAX_BLOB, RAW } from "./cas.ts";
import { CasError } from "./errors.ts";
import { FsStorage } from "./fs_storage.ts";
import { hashBytes, hashText, hashToText } from "./hash.ts";
import { MemoryStorage } from "./storage.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

async function withFsCas(fn: (cas: Cas, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "grid-cas-" });
  try {
    await fn(new Cas(new FsStorage(root)), root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("Cas.put() returns the hash and get() returns the same bytes", async (t) => {
  const samples: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["text", bytes("hello grid")],
    ["binary", new Uint8Array(256).map((_, i) => i)],
    ["1 MiB", new Uint8Array(1 << 20).fill(0xab)],
  ];
  for (const [label, storage] of [["memory", null], ["disk", "fs"]] as const) {
    await t.step(label, async () => {
      const run = async (cas: Cas) => {
        for (const [, data] of samples) {
          const cid = await cas.put(data);
          assertEquals(hashToText(cid), hashToText(hashBytes(data)));
          assertEquals(cid.code, RAW);
          assertEquals(await cas.get(cid), data);
          assert(await cas.has(cid));
        }
        assertEquals((await cas.list()).length, samples.length);
      };
      if (storage === null) await run(new Cas(new MemoryStorage()));
      else await withFsCas(run);
    });
  }
});

Deno.test("Cas.put() honours the codec and get() of an unknown hash is undefined", async () => {
  const cas = new Cas(new MemoryStorage());
  const cid = await cas.put(bytes("{}"), DAG_CBOR);
  assertEquals(cid.code, DAG_CBOR);
  assertEquals(await cas.get(hashText("never stored")), undefined);
  assertEquals(await cas.has(hashText("never stored")), false);
});

Deno.test("Cas.get() detects a tampered file on disk, drops it and counts it", async () => {
  await withFsCas(async (cas, root) => {
    const cid = await cas.put(bytes("the real content"));
    const file = `${root}/cas/${hashToText(cid)}`;
    await Deno.writeFile(file, bytes("the fake content"));
    assertEquals(cas.dropped, 0);
    assertEquals(await cas.get(cid), undefined);
    assertEquals(cas.dropped, 1);
    await assertRejects(() => Deno.stat(file), Deno.errors.NotFound);
    // A fresh put restores it, and a truncated file is caught the same way.
    await cas.put(bytes("the real content"));
    await Deno.truncate(file, 3);
    assertEquals(await cas.has(cid), false);
    assertEquals(cas.dropped, 2);
  });
});

Deno.test("Cas.putVerified() refuses bytes that do not match the hash", async () => {
  await withFsCas(async (cas) => {
    const cid = hashBytes(bytes("promised"));
    await assertRejects(() => cas.putVerified(cid, bytes("delivered")), CasError, hashToText(cid));
    assertEquals(await cas.list(), []);
    await cas.putVerified(cid, bytes("promised"));
    assertEquals(await cas.get(cid), bytes("promised"));
  });
});

Deno.test("Cas refuses blobs over its size limit", async () => {
  const cas = new Cas(new MemoryStorage(), "cas", { maxBlob: 10 });
  await assertRejects(() => cas.put(new Uint8Array(11)), CasError, "limit");
  await assertRejects(
    () => cas.putVerified(hashBytes(new Uint8Array(11)), new Uint8Array(11)),
    CasError,
    "limit",
  );
  assertEquals(await cas.list(), []);
  await cas.put(new Uint8Array(10));
  // The default limit (256 MiB) is checked before the bytes are hashed; the
  // buffer below is never touched, so it costs no real memory.
  await assertRejects(
    () => new Cas(new MemoryStorage()).put(new Uint8Array(MAX_BLOB + 1)),
    CasError,
  );
});

Deno.test("Cas writes leave no temp files beside the blobs", async () => {
  await withFsCas(async (cas, root) => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => cas.put(bytes(`blob ${i % 5}`))));
    const names: string[] = [];
    for await (const entry of Deno.readDir(`${root}/cas`)) names.push(entry.name);
    assertEquals(names.length, 5);
    assert(names.every((n) => /^b[a-z2-7]+$/.test(n)), names.join(" "));
  });
});
