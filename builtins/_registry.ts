/**
 * The builtin commands the binary embeds. Each is a file in this folder;
 * its module hash is the hash of that file's bytes (read from the embedded
 * copy in a compiled binary, `deno compile --include builtins`).
 *
 * To add a command: write `builtins/NAME.ts` exporting `command`, then add
 * one line to {@link BUILTIN_FILES}.
 *
 * @module
 */
import { type CID, definePromise, hashBytes, type KnownPromise } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";
import { command as put } from "./put.ts";
import { command as get } from "./get.ts";
import { command as joinWireguardNet } from "./join_wireguard_net.ts";
import { command as publish } from "./publish.ts";
import { command as symbols } from "./symbols.ts";
import { command as allow } from "./allow.ts";
import { command as serve } from "./serve.ts";
import { command as peers } from "./peers.ts";
import { command as createWireguardNet } from "./create_wireguard_net.ts";
import { command as invite } from "./invite.ts";
import { command as leaveWireguardNet } from "./leave_wireguard_net.ts";
import { command as revoke } from "./revoke.ts";
import { command as status } from "./status.ts";
import { command as admins } from "./admins.ts";
import { command as wait } from "./wait.ts";
import { command as down } from "./down.ts";

/** File name and command, in the order the kernel consults them. */
export const BUILTIN_FILES: ReadonlyArray<readonly [string, Command]> = [
  ["put.ts", put],
  ["get.ts", get],
  ["join_wireguard_net.ts", joinWireguardNet],
  ["publish.ts", publish],
  ["symbols.ts", symbols],
  ["allow.ts", allow],
  ["serve.ts", serve],
  ["peers.ts", peers],
  ["create_wireguard_net.ts", createWireguardNet],
  ["invite.ts", invite],
  ["leave_wireguard_net.ts", leaveWireguardNet],
  ["revoke.ts", revoke],
  ["admins.ts", admins],
  ["status.ts", status],
  ["wait.ts", wait],
  ["down.ts", down],
];

/** The builtin commands, as the command line takes them (see {@link loadBuiltins}). */
export interface Builtins {
  /** Reads and hashes every builtin command file (once per process). */
  load(): Promise<BuiltinCommand[]>;
}

/** This binary's builtins. */
export const BUILTINS: Builtins = { load: () => loadBuiltins() };

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

let loaded: Promise<BuiltinCommand[]> | undefined;

/** Reads and hashes every builtin command file (once per process). */
export function loadBuiltins(): Promise<BuiltinCommand[]> {
  loaded ??= Promise.all(BUILTIN_FILES.map(async ([file, command]) => {
    const bytes = await Deno.readFile(new URL(file, import.meta.url));
    return {
      command,
      module: hashBytes(bytes),
      promise: definePromise({ text: command.promise }),
      file,
    };
  }));
  return loaded;
}
