/**
 * `grid put FILE`: stores a file's bytes in the CAS and prints their hash.
 *
 * @module
 */
import type { CID } from "../kernel/mod.ts";
import { UsageError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { parseFlags } from "./_flags.ts";

const USAGE = "grid put FILE (use - for standard input)";

/** The put command. */
export const command: Command = {
  name: "put",
  promise:
    "I promise that the file I store is mine to share, and I ask this node to keep it under its hash and give that hash back to me.",
  usage: USAGE,
  summary: "store a file in the content-addressed store; prints its hash",
  group: "content",
  options: [
    ["FILE", "the file to store, or - for standard input"],
  ],
  fileArgs: true,
  async run(args, ctx) {
    const [file] = (await parseFlags(args, {}, USAGE, { min: 1, max: 1 })).positionals;
    const { hashToText, isAccept, putMessage, RejectedError, rejectReason } = await import(
      "../kernel/mod.ts"
    );
    const bytes = await readInput(file);
    const reply = await ctx.call(putMessage(bytes));
    if (!isAccept(reply)) {
      const { code, reason } = rejectReason(reply);
      throw new RejectedError(code, `Cannot store "${file}": ${reason}`);
    }
    await ctx.io.stdout(hashToText(reply[1] as CID) + "\n");
    return 0;
  },
};

async function readInput(path: string): Promise<Uint8Array> {
  const { CasError, MAX_BLOB } = await import("../kernel/mod.ts");
  try {
    if (path === "-") return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
    const info = await Deno.stat(path);
    if (!info.isFile) throw new UsageError(`Cannot store "${path}": not a regular file`);
    if (info.size > MAX_BLOB) {
      throw new CasError(
        `Cannot store "${path}": ${info.size} bytes is over the ${MAX_BLOB}-byte limit`,
      );
    }
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot store "${path}": no such file`);
    }
    throw err;
  }
}
