/**
 * Test helper: an in-memory implementation of the OPFS handle subset
 * {@link OpfsStorage} uses, with the spec's semantics where they matter:
 * DOMException names for missing entries and kind mismatches, writables that
 * stage data and commit only on close (abort discards), and a hook to make
 * the next write fail.
 *
 * @module
 */
import type { OpfsDirectoryHandle, OpfsFileHandle, OpfsWritable } from "./opfs_storage.ts";

function notFound(name: string): DOMException {
  return new DOMException(`"${name}" was not found`, "NotFoundError");
}

function mismatch(name: string): DOMException {
  return new DOMException(`"${name}" is of the other kind`, "TypeMismatchError");
}

/** A file: its committed bytes. */
export class MemoryFileHandle implements OpfsFileHandle {
  readonly kind = "file" as const;
  readonly name: string;
  bytes: Uint8Array = new Uint8Array();
  /** When set, the next `write()` on a writable of this file throws it. */
  failNextWrite?: Error;
  constructor(name: string) {
    this.name = name;
  }
  getFile(): Promise<{ arrayBuffer(): Promise<ArrayBuffer> }> {
    const snapshot = this.bytes.slice();
    return Promise.resolve({ arrayBuffer: () => Promise.resolve(snapshot.buffer) });
  }
  createWritable(options: { keepExistingData?: boolean } = {}): Promise<OpfsWritable> {
    let staged: Uint8Array = options.keepExistingData ? this.bytes.slice() : new Uint8Array();
    let open = true;
    return Promise.resolve({
      write: (data: Uint8Array): Promise<void> => {
        if (!open) return Promise.reject(new TypeError("The stream is closed"));
        if (this.failNextWrite) {
          const err = this.failNextWrite;
          this.failNextWrite = undefined;
          return Promise.reject(err);
        }
        const next = new Uint8Array(staged.length + data.length);
        next.set(staged);
        next.set(data, staged.length);
        staged = next;
        return Promise.resolve();
      },
      close: (): Promise<void> => {
        if (!open) return Promise.reject(new TypeError("The stream is closed"));
        open = false;
        this.bytes = staged; // the swap file replaces the file in one step
        return Promise.resolve();
      },
      abort: (): Promise<void> => {
        open = false;
        return Promise.resolve();
      },
    });
  }
}

/** A directory of named entries. */
export class MemoryDirectoryHandle implements OpfsDirectoryHandle {
  readonly kind = "directory" as const;
  readonly name: string;
  readonly entries = new Map<string, MemoryDirectoryHandle | MemoryFileHandle>();
  constructor(name = "") {
    this.name = name;
  }
  getDirectoryHandle(
    name: string,
    options: { create?: boolean } = {},
  ): Promise<MemoryDirectoryHandle> {
    const found = this.entries.get(name);
    if (found instanceof MemoryDirectoryHandle) return Promise.resolve(found);
    if (found) return Promise.reject(mismatch(name));
    if (!options.create) return Promise.reject(notFound(name));
    const dir = new MemoryDirectoryHandle(name);
    this.entries.set(name, dir);
    return Promise.resolve(dir);
  }
  getFileHandle(name: string, options: { create?: boolean } = {}): Promise<MemoryFileHandle> {
    const found = this.entries.get(name);
    if (found instanceof MemoryFileHandle) return Promise.resolve(found);
    if (found) return Promise.reject(mismatch(name));
    if (!options.create) return Promise.reject(notFound(name));
    const file = new MemoryFileHandle(name);
    this.entries.set(name, file);
    return Promise.resolve(file);
  }
  removeEntry(name: string, options: { recursive?: boolean } = {}): Promise<void> {
    const found = this.entries.get(name);
    if (!found) return Promise.reject(notFound(name));
    if (found instanceof MemoryDirectoryHandle && found.entries.size > 0 && !options.recursive) {
      return Promise.reject(new DOMException(`"${name}" is not empty`, "InvalidModificationError"));
    }
    this.entries.delete(name);
    return Promise.resolve();
  }
  async *keys(): AsyncIterableIterator<string> {
    for (const name of [...this.entries.keys()]) yield name;
  }
}
