import { assertEquals } from "./_testing_assert.ts";
import { withFileLock } from "./file_lock.ts";
import { writeTextFileAtomic } from "./atomic_file.ts";

Deno.test("withFileLock() serializes read-modify-write: no concurrent append is lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-lock-" });
  const path = `${dir}/list`;
  try {
    await Deno.writeTextFile(path, "");
    // Each edit reads, yields, then writes: without the lock all but one are lost.
    await Promise.all(Array.from({ length: 8 }, (_, i) =>
      withFileLock(path, async () => {
        const before = await Deno.readTextFile(path);
        await new Promise((r) => setTimeout(r, 5));
        await writeTextFileAtomic(path, `${before}line${i}\n`);
      })));
    assertEquals((await Deno.readTextFile(path)).trim().split("\n").sort(), [
      "line0",
      "line1",
      "line2",
      "line3",
      "line4",
      "line5",
      "line6",
      "line7",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
