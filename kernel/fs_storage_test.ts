import { assert, assertEquals } from "./_testing_assert.ts";
import { FsStorage } from "./fs_storage.ts";
import { writeFileAtomic, writeFilesAtomic, writeTextFileAtomic } from "./atomic_file.ts";
import { MemoryStorage, type Storage } from "./storage.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-fs-storage-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The Storage contract, run against every implementation. */
async function storageContract(t: Deno.TestContext, storage: Storage): Promise<void> {
  await t.step("read of an absent path is undefined", async () => {
    assertEquals(await storage.read("nothing/here"), undefined);
  });
  await t.step("write then read returns the same bytes, parents created", async () => {
    await storage.write("a/b/c", bytes("one"));
    assertEquals(await storage.read("a/b/c"), bytes("one"));
  });
  await t.step("a second write replaces the first", async () => {
    await storage.write("a/b/c", bytes("two"));
    assertEquals(await storage.read("a/b/c"), bytes("two"));
  });
  await t.step("list names what is directly under a directory", async () => {
    await storage.write("a/b/d", bytes("x"));
    assertEquals((await storage.list("a/b")).sort(), ["c", "d"]);
    assertEquals(await storage.list("a"), ["b"]);
    assertEquals(await storage.list("missing"), []);
  });
  await t.step("remove deletes, and removing again is not an error", async () => {
    await storage.remove("a/b/c");
    assertEquals(await storage.read("a/b/c"), undefined);
    await storage.remove("a/b/c");
  });
  await t.step(
    "a caller mutating its buffer after write does not change what is stored",
    async () => {
      const data = bytes("keep");
      await storage.write("k", data);
      data[0] = 0;
      assertEquals(await storage.read("k"), bytes("keep"));
    },
  );
}

Deno.test("MemoryStorage keeps the Storage contract", async (t) => {
  await storageContract(t, new MemoryStorage());
});

Deno.test("FsStorage keeps the Storage contract", async (t) => {
  await withTempDir(async (dir) => {
    await storageContract(t, new FsStorage(dir));
  });
});

Deno.test("writeFileAtomic() leaves no temp files and applies the mode", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 20; i++) await writeFileAtomic(`${dir}/f`, bytes(`v${i}`), { mode: 0o600 });
    assertEquals(await namesIn(dir), ["f"]);
    assertEquals(await Deno.readTextFile(`${dir}/f`), "v19");
    assertEquals((await Deno.stat(`${dir}/f`)).mode! & 0o777, 0o600);
    await writeTextFileAtomic(`${dir}/g`, "text");
    assertEquals((await Deno.stat(`${dir}/g`)).mode! & 0o777, 0o644);
  });
});

Deno.test("writeFilesAtomic() writes a batch whole, each with the mode, no temp files; a failed one leaves none", async () => {
  await withTempDir(async (dir) => {
    const files = Array.from(
      { length: 12 },
      (_, i) => ({ name: `r${i}`, data: bytes(`record ${i}`) }),
    );
    await writeFilesAtomic(`${dir}/records`, files, { mode: 0o640 });
    assertEquals(await namesIn(`${dir}/records`), files.map((f) => f.name).sort());
    for (const f of files) {
      assertEquals(
        await Deno.readTextFile(`${dir}/records/${f.name}`),
        new TextDecoder().decode(f.data),
      );
      assertEquals((await Deno.stat(`${dir}/records/${f.name}`)).mode! & 0o777, 0o640);
    }
    // A name that cannot be renamed to (a directory is there): the batch fails, no temp file stays.
    await Deno.mkdir(`${dir}/records/taken/inner`, { recursive: true });
    let failed = false;
    await writeFilesAtomic(`${dir}/records`, [{ name: "taken", data: bytes("x") }]).catch(() =>
      failed = true
    );
    assert(failed, "renaming over a non-empty directory should fail");
    assert((await namesIn(`${dir}/records`)).every((n) => !n.startsWith(".tmp-")));
  });
});

Deno.test("writeFileAtomic() under concurrent writers leaves one whole version", async () => {
  await withTempDir(async (dir) => {
    const versions = Array.from({ length: 16 }, (_, i) => new Uint8Array(64 * 1024).fill(i));
    await Promise.all(versions.map((v) => writeFileAtomic(`${dir}/f`, v)));
    const final = await Deno.readFile(`${dir}/f`);
    assertEquals(final.length, 64 * 1024);
    assert(final.every((b) => b === final[0]), "the file mixes two writes");
    assertEquals(await namesIn(dir), ["f"]);
  });
});

Deno.test("writeFileAtomic() that fails before the rename keeps the old content and no temp file", async () => {
  await withTempDir(async (dir) => {
    // The target is a non-empty directory: the data is written, the rename fails.
    await Deno.mkdir(`${dir}/f/inner`, { recursive: true });
    let failed = false;
    try {
      await writeFileAtomic(`${dir}/f`, bytes("new"));
    } catch {
      failed = true; // expected: rename over a non-empty directory
    }
    assert(failed, "the write should have failed");
    assertEquals(await namesIn(dir), ["f"]);
    assertEquals(await namesIn(`${dir}/f`), ["inner"]);
  });
});

Deno.test("writeFileAtomic() that fails midway (file size limit) keeps the old content", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/f`, bytes("old content"));
    // A child process with a 4 KiB file size limit (and SIGXFSZ ignored, so the
    // write fails with EFBIG instead of killing it) tries to write 100 KB.
    const script = `
      import { writeFileAtomic } from ${
      JSON.stringify(new URL("./atomic_file.ts", import.meta.url).href)
    };
      try {
        await writeFileAtomic(Deno.args[0], new Uint8Array(100_000).fill(1));
      } catch (err) {
        console.log("failed: " + err.message);
        Deno.exit(3);
      }`;
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        `trap '' XFSZ; ulimit -f 4; exec "$0" eval "$1" "$2"`,
        Deno.execPath(),
        script,
        `${dir}/f`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 3, `child: ${stdout} ${new TextDecoder().decode(out.stderr)}`);
    assert(/too large/i.test(stdout), stdout);
    assertEquals(await Deno.readTextFile(`${dir}/f`), "old content");
    assertEquals(await namesIn(dir), ["f"]);
  });
});

Deno.test("FsStorage.list() hides temp files of writes in progress", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.tmp-123`, "half");
    await Deno.writeTextFile(`${dir}/real`, "x");
    assertEquals(await new FsStorage(dir).list(""), ["real"]);
  });
});
