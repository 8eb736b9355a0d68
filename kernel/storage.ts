/**
 * Storage: the one interface the kernel uses for bytes at rest, so the same
 * kernel runs on a filesystem ({@link FsStorage}) or in memory, and later in a
 * browser tab (OPFS). Paths are relative, `/`-separated and pre-validated.
 *
 * @module
 */

/** Where caches and the CAS keep their bytes. */
export interface Storage {
  /** The bytes at `path`, or undefined when absent. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Writes atomically: readers see the old bytes or the new, never a mix. */
  write(path: string, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** Removes `path`; already gone counts as success. */
  remove(path: string): Promise<void>;
  /** Names directly under `dir` (files and directories), in no set order. */
  list(dir: string): Promise<string[]>;
}

/** Options for {@link Storage.write}. */
export interface WriteOptions {
  /** File mode for the new file, e.g. 0o600 for secrets. */
  mode?: number;
}

/** Storage in a Map: for tests, benchmarks and hosts without a disk. */
export class MemoryStorage implements Storage {
  #files = new Map<string, Uint8Array>();
  read(path: string): Promise<Uint8Array | undefined> {
    const data = this.#files.get(path);
    return Promise.resolve(data && data.slice());
  }
  write(path: string, data: Uint8Array): Promise<void> {
    this.#files.set(path, data.slice());
    return Promise.resolve();
  }
  remove(path: string): Promise<void> {
    this.#files.delete(path);
    return Promise.resolve();
  }
  list(dir: string): Promise<string[]> {
    const prefix = dir === "" ? "" : dir.replace(/\/$/, "") + "/";
    const names = new Set<string>();
    for (const key of this.#files.keys()) {
      if (key.startsWith(prefix)) names.add(key.slice(prefix.length).split("/")[0]);
    }
    return Promise.resolve([...names]);
  }
}
