/**
 * Serializes read-modify-write of a small file between processes: an
 * exclusive advisory lock on `PATH.lock` (Deno.FsFile.lock, flock) held
 * around the change, so two commands editing the same list at once cannot
 * lose one of the edits. The lock file itself stays (empty) beside the file.
 *
 * @module
 */

/** Runs `fn` while holding the exclusive lock on `${path}.lock`; releases it whatever happens. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true, mode: 0o700 });
  const file = await Deno.open(`${path}.lock`, {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close(); // closing the descriptor releases the lock
  }
}
