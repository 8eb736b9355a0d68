/**
 * {@link Storage} over the browser's Origin Private File System
 * (`navigator.storage.getDirectory()`), so the same kernel can keep its CAS
 * and caches in a browser tab. Only the handle API subset below is used, so
 * anything implementing it (a browser, or the in-memory adapter the tests
 * use under Deno, which has no OPFS) can back it.
 *
 * Atomicity: a write goes through `createWritable()`, whose data the File
 * System spec keeps in a swap file until `close()` commits it in one step;
 * readers see the old bytes or the new, never a mix, and an aborted or failed
 * write leaves the old bytes. File modes do not exist in OPFS (the store is
 * private to the origin), so `WriteOptions.mode` is ignored.
 *
 * @module
 */
import { assertSafePath } from "./cache_key.ts";
import type { Storage, WriteOptions } from "./storage.ts";

/** The part of `FileSystemWritableFileStream` used here. */
export interface OpfsWritable {
  /** Stages bytes (not visible to readers until {@link OpfsWritable.close}). */
  write(data: Uint8Array): Promise<void>;
  /** Commits what was staged, in one step. */
  close(): Promise<void>;
  /** Discards what was staged; the file keeps its old bytes. */
  abort(reason?: unknown): Promise<void>;
}

/** The part of `FileSystemFileHandle` used here. */
export interface OpfsFileHandle {
  /** Always "file". */
  readonly kind: "file";
  /** The entry's name in its directory. */
  readonly name: string;
  /** A snapshot of the committed bytes. */
  getFile(): Promise<{ arrayBuffer(): Promise<ArrayBuffer> }>;
  /** A writable that stages data until it is closed. */
  createWritable(options?: { keepExistingData?: boolean }): Promise<OpfsWritable>;
}

/** The part of `FileSystemDirectoryHandle` used here. */
export interface OpfsDirectoryHandle {
  /** Always "directory". */
  readonly kind: "directory";
  /** The entry's name in its parent ("" for the root). */
  readonly name: string;
  /** A child directory; NotFoundError when missing and not created. */
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectoryHandle>;
  /** A child file; NotFoundError when missing and not created. */
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle>;
  /** Removes a child; NotFoundError when missing. */
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  /** The children's names. */
  keys(): AsyncIterable<string>;
}

/** True for the DOMExceptions OPFS throws when an entry is missing or of the other kind. */
function isMissing(err: unknown): boolean {
  return err instanceof DOMException &&
    (err.name === "NotFoundError" || err.name === "TypeMismatchError");
}

/** Names OPFS implementations use for in-progress writes (never listed). */
function isScratch(name: string): boolean {
  return name.endsWith(".crswap") || name.startsWith(".tmp-");
}

/** Storage in an OPFS directory. */
export class OpfsStorage implements Storage {
  readonly #root: OpfsDirectoryHandle;

  /** Storage rooted at an OPFS directory handle. */
  constructor(root: OpfsDirectoryHandle) {
    this.#root = root;
  }

  /** Opens storage at the origin's OPFS root (browsers only). */
  static async open(): Promise<OpfsStorage> {
    const storage = (navigator as unknown as {
      storage?: { getDirectory?: () => Promise<OpfsDirectoryHandle> };
    }).storage;
    if (!storage?.getDirectory) {
      throw new Error("This runtime has no Origin Private File System");
    }
    return new OpfsStorage(await storage.getDirectory());
  }

  async #dir(parts: string[], create: boolean): Promise<OpfsDirectoryHandle | undefined> {
    let dir = this.#root;
    for (const part of parts) {
      try {
        dir = await dir.getDirectoryHandle(part, { create });
      } catch (err) {
        if (!create && isMissing(err)) return undefined;
        throw err;
      }
    }
    return dir;
  }

  #split(path: string): { dirs: string[]; name: string } {
    assertSafePath(path);
    const parts = path.split("/");
    return { dirs: parts.slice(0, -1), name: parts[parts.length - 1] };
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    const { dirs, name } = this.#split(path);
    const dir = await this.#dir(dirs, false);
    if (!dir) return undefined;
    try {
      const file = await (await dir.getFileHandle(name)).getFile();
      return new Uint8Array(await file.arrayBuffer());
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async write(path: string, data: Uint8Array, _options: WriteOptions = {}): Promise<void> {
    const { dirs, name } = this.#split(path);
    const dir = (await this.#dir(dirs, true))!;
    const handle = await dir.getFileHandle(name, { create: true });
    const writable = await handle.createWritable({ keepExistingData: false });
    try {
      await writable.write(data.slice());
    } catch (err) {
      await writable.abort(err).catch(() => {}); // the write already failed; keep its error
      throw err;
    }
    await writable.close();
  }

  async remove(path: string): Promise<void> {
    const { dirs, name } = this.#split(path);
    const dir = await this.#dir(dirs, false);
    if (!dir) return;
    try {
      await dir.removeEntry(name);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  async list(dir: string): Promise<string[]> {
    let handle: OpfsDirectoryHandle | undefined = this.#root;
    if (dir !== "") {
      assertSafePath(dir);
      handle = await this.#dir(dir.split("/"), false);
    }
    if (!handle) return [];
    const names: string[] = [];
    for await (const name of handle.keys()) if (!isScratch(name)) names.push(name);
    return names;
  }
}
