/**
 * The builtin commands the binary embeds. Each is a file in this folder;
 * its module hash is the hash of that file's bytes (read from the embedded
 * copy in a compiled binary, `deno compile --include builtins`).
 *
 * The files are imported when first asked for, and each loads only its
 * command's description at the top: what it runs with (the kernel, the mesh,
 * the peer stack) it imports when it runs. So `grid --help` and a command a
 * running agent answers load the descriptions, not the code behind them.
 *
 * To add a command: write `builtins/NAME.ts` exporting `command`, then add
 * one line to {@link BUILTIN_FILES}.
 *
 * @module
 */
import type { CID, KnownPromise } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";

/** What a command file exports. */
interface CommandFile {
  /** The command it holds. */
  readonly command: Command;
}

/** File name and loader of each command, in the order the kernel consults them. */
export const BUILTIN_FILES: ReadonlyArray<readonly [string, () => Promise<CommandFile>]> = [
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

/** A builtin command with its file's bytes (no hashes: nothing of the kernel loaded). */
export interface BuiltinSource {
  /** The command itself. */
  readonly command: Command;
  /** The file, relative to this folder. */
  readonly file: string;
  /** The file's bytes, whose hash is the command's module hash. */
  readonly bytes: Uint8Array;
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
  /** Imports every command and reads its file (once per process). */
  sources(): Promise<BuiltinSource[]>;
  /** {@link sources}, hashed with the kernel (once per process). */
  load(): Promise<BuiltinCommand[]>;
}

/** This binary's builtins. */
export const BUILTINS: Builtins = { sources: () => loadSources(), load: () => loadBuiltins() };

let sources: Promise<BuiltinSource[]> | undefined;
let loaded: Promise<BuiltinCommand[]> | undefined;

/** Imports every builtin command and reads its file (once per process). */
export function loadSources(): Promise<BuiltinSource[]> {
  sources ??= Promise.all(BUILTIN_FILES.map(async ([file, load]) => {
    const [{ command }, bytes] = await Promise.all([
      load(),
      Deno.readFile(new URL(file, import.meta.url)),
    ]);
    return { command, file, bytes };
  }));
  return sources;
}

/** Reads and hashes every builtin command file (once per process). */
export function loadBuiltins(): Promise<BuiltinCommand[]> {
  loaded ??= (async () => {
    const [{ definePromise, hashBytes }, all] = await Promise.all([
      import("../kernel/mod.ts"),
      loadSources(),
    ]);
    return all.map(({ command, file, bytes }) => ({
      command,
      module: hashBytes(bytes),
      promise: definePromise({ text: command.promise }),
      file,
    }));
  })();
  return loaded;
}
