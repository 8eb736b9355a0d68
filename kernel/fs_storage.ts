/**
 * {@link Storage} on the local filesystem, rooted at one directory. Writes go
 * to a temp file in the same directory and are renamed into place, so a crash
 * never leaves a half-written file under a real name.
 *
 * @module
 */
import { assertSafePath } from "./cache_key.ts";
import type { Storage, WriteOptions } from "./storage.ts";

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

/**
 * Writes `data` to `path` atomically: temp file beside it (created with
 * `mode`, default 0o644), fsync, then rename. Parent directories are created.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : ".";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${dir}/.tmp-${crypto.randomUUID()}`;
  const mode = options.mode ?? 0o644;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, mode); // umask may have narrowed or widened the create mode
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {}); // best effort: the temp file may not exist
    throw err;
  }
  await syncDir(dir);
}

/** Flushes a directory's entries (a rename) to disk, so the new name survives a crash. */
async function syncDir(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch (err) {
    // Some file systems and platforms cannot open or fsync a directory
    // (EINVAL, EISDIR, unsupported): the rename is still atomic there, only
    // not yet durable, which is the best that platform offers.
    if (
      !(err instanceof Deno.errors.InvalidData || err instanceof Deno.errors.IsADirectory ||
        err instanceof Deno.errors.NotSupported || err instanceof Deno.errors.PermissionDenied ||
        /EINVAL|Invalid argument|not supported/i.test(String(err)))
    ) {
      throw err;
    }
  } finally {
    handle?.close();
  }
}

/** {@link writeFileAtomic} for text. */
export function writeTextFileAtomic(
  path: string,
  text: string,
  options: WriteOptions = {},
): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text), options);
}
