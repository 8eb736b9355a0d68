/**
 * The builtin commands the binary embeds. Each is a file in this folder,
 * named after its command (`join-wireguard-net` is `join_wireguard_net.ts`);
 * its module hash is the hash of that file's bytes (read from the embedded
 * copy in a compiled binary, `deno compile --include builtins`).
 *
 * A command file is imported when first asked for, and it loads only its
 * command's description at the top: what it runs with (the kernel, the mesh,
 * the peer stack) it imports when it runs. Its name and promise are written
 * out in the file itself, so the file's bytes say all the symbol table holds
 * of it: a command line can check the table against the files without
 * importing them (agent/lookup.ts; registry_test.ts checks the rule).
 *
 * To add a command: write `builtins/NAME.ts` exporting `command`, then add
 * one line to {@link BUILTIN_FILES}.
 *
 * @module
 */
import type { CID, KnownPromise } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";

/** File name and loader of each command, in the order the kernel consults them. */
export const BUILTIN_FILES: ReadonlyArray<
  readonly [string, () => Promise<{ readonly command: Command }>]
> = [
  ["put.ts", () => import("./put.ts")],
  ["get.ts", () => import("./get.ts")],
  ["join_wireguard_net.ts", () => import("./join_wireguard_net.ts")],
  ["publish.ts", () => import("./publish.ts")],
  ["symbols.ts", () => import("./symbols.ts")],
  ["allow.ts", () => import("./allow.ts")],
  ["serve.ts", () => import("./serve.ts")],
  ["peers.ts", () => import("./peers.ts")],
  ["create_wireguard_net.ts", () => import("./create_wireguard_net.ts")],
  ["invite.ts", () => import("./invite.ts")],
  ["leave_wireguard_net.ts", () => import("./leave_wireguard_net.ts")],
  ["revoke.ts", () => import("./revoke.ts")],
  ["admins.ts", () => import("./admins.ts")],
  ["status.ts", () => import("./status.ts")],
  ["wait.ts", () => import("./wait.ts")],
  ["down.ts", () => import("./down.ts")],
];

/** A builtin command's file, read but not imported. */
export interface BuiltinFile {
  /** The command's name (from the file's: `join_wireguard_net.ts` is `join-wireguard-net`). */
  readonly name: string;
  /** The file, relative to this folder. */
  readonly file: string;
  /** The file's bytes, whose hash is the command's module hash. */
  readonly bytes: Uint8Array;
  /** Imports the file (once) and returns its command. */
  readonly command: () => Promise<Command>;
}

/** A builtin command with its hashes. */
export interface BuiltinCommand {
  /** The command itself. */
  readonly command: Command;
  /** Hash of the command file's bytes. */
  readonly module: CID;
  /** The command's promise, hashed. */
  readonly promise: KnownPromise;
  /** The file, relative to this folder. */
  readonly file: string;
}

/** The builtin commands, as the command line takes them. */
export interface Builtins {
  /** Reads every command's file, importing none (once per process). */
  files(): Promise<BuiltinFile[]>;
  /** Imports every command (once per process). */
  commands(): Promise<Command[]>;
  /** Every command with its hashes, computed by the kernel (once per process). */
  load(): Promise<BuiltinCommand[]>;
}

/** This binary's builtins. */
export const BUILTINS: Builtins = {
  files: () => loadFiles(),
  commands: () => loadCommands(),
  load: () => loadBuiltins(),
};

/** The command name a builtin file holds: `join_wireguard_net.ts` holds `join-wireguard-net`. */
export function commandNameOf(file: string): string {
  return file.replace(/\.ts$/, "").replaceAll("_", "-");
}

let files: Promise<BuiltinFile[]> | undefined;
let loaded: Promise<BuiltinCommand[]> | undefined;

/**
 * Reads every builtin command's file, importing none (once per process).
 * Read synchronously: sixteen small files take a tenth of a millisecond
 * that way, and several times that (more on a busy machine) through the
 * thread pool that asynchronous reads go through.
 */
export function loadFiles(): Promise<BuiltinFile[]> {
  files ??= new Promise((resolve) => {
    resolve(BUILTIN_FILES.map(([file, load]) => {
      let command: Promise<Command> | undefined;
      return {
        name: commandNameOf(file),
        file,
        bytes: Deno.readFileSync(new URL(file, import.meta.url)),
        command: () => command ??= load().then((m) => m.command),
      };
    }));
  });
  return files;
}

/** Imports every builtin command, in {@link BUILTIN_FILES} order. */
export async function loadCommands(): Promise<Command[]> {
  return await Promise.all((await loadFiles()).map((f) => f.command()));
}

/** Reads and hashes every builtin command file (once per process). */
export function loadBuiltins(): Promise<BuiltinCommand[]> {
  loaded ??= (async () => {
    const [{ definePromise, hashBytes }, all, commands] = await Promise.all([
      import("../kernel/mod.ts"),
      loadFiles(),
      loadCommands(),
    ]);
    return all.map(({ file, bytes }, i) => ({
      command: commands[i],
      module: hashBytes(bytes),
      promise: definePromise({ text: commands[i].promise }),
      file,
    }));
  })();
  return loaded;
}
