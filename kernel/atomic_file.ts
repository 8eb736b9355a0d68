/**
 * Atomic file writes: a temp file beside the target, fsync, rename, then the
 * directory synced, so a crash never leaves a half-written file under a real
 * name. Apart from the storage classes so the grid home (config) can use it
 * without loading the cache key code and its hashing.
 *
 * @module
 */
import type { WriteOptions } from "./storage.ts";

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
  await writeFilesAtomic(dir, [{ name: path.slice(slash + 1), data }], options);
}

/**
 * Writes several files into `dir`, each atomically as {@link writeFileAtomic}
 * does, with one directory sync for all of them: a batch of N files costs N
 * file syncs and one directory sync instead of N of each. A crash leaves
 * each file either whole under its name or absent.
 */
export async function writeFilesAtomic(
  dir: string,
  files: { name: string; data: Uint8Array }[],
  options: WriteOptions = {},
): Promise<void> {
  if (files.length === 0) return;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const mode = options.mode ?? 0o644;
  await Promise.all(files.map(async ({ name, data }) => {
    const tmp = `${dir}/.tmp-${crypto.randomUUID()}`;
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
      await Deno.rename(tmp, `${dir}/${name}`);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {}); // best effort: the temp file may not exist
      throw err;
    }
  }));
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
