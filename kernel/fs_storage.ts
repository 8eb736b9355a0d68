/**
 * {@link Storage} on the local filesystem, rooted at one directory. Writes go
 * to a temp file in the same directory and are renamed into place, so a crash
 * never leaves a half-written file under a real name.
 *
 * @module
 */
import { assertSafePath } from "./cache_key.ts";
import type { Storage, WriteOptions } from "./storage.ts";
import { writeFileAtomic } from "./atomic_file.ts";

/** Storage under `root` on disk. */
export class FsStorage implements Storage {
  /** The directory every path is relative to (no trailing slash). */
  readonly root: string;
  /** Storage rooted at `root`; the directory is created on the first write. */
  constructor(root: string) {
    this.root = root.replace(/\/+$/, "");
  }

  #abs(path: string): string {
    assertSafePath(path);
    return `${this.root}/${path}`;
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(this.#abs(path));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  async write(path: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    await writeFileAtomic(this.#abs(path), data, options);
  }

  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(this.#abs(path));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  async list(dir: string): Promise<string[]> {
    const abs = dir === "" ? this.root : this.#abs(dir);
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(abs)) {
        if (!entry.name.startsWith(".tmp-")) names.push(entry.name);
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    return names;
  }
}
