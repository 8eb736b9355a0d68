/**
 * What the mesh commands share: flag parsing with one-line usage errors, and
 * running a mesh operation in the agent's mesh service when one answers
 * through the kernel, or else on this node's on-disk state (offline).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { hashText, loadIdentity, UsageError } from "../kernel/mod.ts";
import { callMesh, Mesh, type MeshArgs } from "../modules/wireguard/mod.ts";
import type { Command, CommandContext } from "./_command.ts";
import { JOIN_PROMISE_TEXT } from "./join_wireguard_net.ts";

/** Parsed flags and positionals. */
export interface ParsedFlags {
  /** Flag values by name. */
  values: Record<string, string | boolean | undefined>;
  /** The arguments that are not flags, in order. */
  positionals: string[];
}

/** Parses `args` strictly; any mistake is a {@link UsageError} quoting `usage`. */
export function parseFlags(
  args: string[],
  options: ParseArgsConfig["options"],
  usage: string,
  positionals: { min: number; max: number },
): ParsedFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValuesInline(args, options),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const why = (err as Error).message.split("\n")[0].replace(/\. To specify a positional.*$/, "");
    throw new UsageError(`${why}; usage: ${usage}`, { cause: err });
  }
  const n = parsed.positionals.length;
  if (n < positionals.min || n > positionals.max) throw new UsageError(`Usage: ${usage}`);
  return parsed as ParsedFlags;
}

/**
 * `--flag -5m` as `--flag=-5m` for string flags, so a value that starts with
 * a dash and a digit reaches the command's own check (and its clear message)
 * instead of Node's "argument is ambiguous".
 */
export function negativeValuesInline(
  args: string[],
  options: ParseArgsConfig["options"],
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : undefined;
    const next = args[i + 1];
    if (
      name !== undefined && options?.[name]?.type === "string" && next !== undefined &&
      /^-[0-9]/.test(next)
    ) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** Parses a port flag. */
export function parsePort(text: string | boolean | undefined): number | undefined {
  if (text === undefined || typeof text === "boolean") return undefined;
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`Invalid port "${text}": use 1 to 65535`);
  }
  return port;
}

/** Drops undefined values (CBOR has no undefined). */
export function meshArgs(values: Record<string, unknown>): MeshArgs {
  const out: MeshArgs = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v as MeshArgs[string];
  return out;
}

/** Opens the mesh on this node's disk, without an agent. */
export async function openOfflineMesh(ctx: CommandContext): Promise<Mesh> {
  const home = ctx.node.home;
  return await Mesh.open({
    home,
    identity: await loadIdentity(`${home.state}/identity`),
    joinPromise: hashText(JOIN_PROMISE_TEXT).toString(),
  });
}

/** Runs `op` in the agent's mesh service, or offline when no agent runs here. */
export async function runMeshOp(
  ctx: CommandContext,
  op: string,
  args: MeshArgs,
): Promise<MeshArgs> {
  const answer = await callMesh(ctx.call, op, args);
  if (answer !== undefined) return answer;
  return await (await openOfflineMesh(ctx)).run(op, args, ctx.signal);
}

/** A mesh command whose arguments are all positional: see {@link positionalMeshCommand}. */
export interface PositionalMeshCommandOptions {
  /** The command's name. */
  name: string;
  /** The promise text the command makes. */
  promise: string;
  /** One-line usage. */
  usage: string;
  /** One-line help. */
  summary: string;
  /** The mesh operation it runs. */
  op: string;
  /** The operation's argument names, one per positional, in order (all required). */
  params: string[];
  /** The line(s) printed from the operation's result. */
  render(result: MeshArgs): string;
}

/** A command that passes exactly its positionals to mesh operation `op` and prints the result. */
export function positionalMeshCommand(options: PositionalMeshCommandOptions): Command {
  const { name, promise, usage, summary, op, params, render } = options;
  return {
    name,
    promise,
    usage,
    summary,
    async run(args, ctx) {
      const n = params.length;
      const { positionals } = parseFlags(args, {}, usage, { min: n, max: n });
      const r = await runMeshOp(
        ctx,
        op,
        Object.fromEntries(params.map((p, i) => [p, positionals[i]])),
      );
      await ctx.io.stdout(render(r));
      return 0;
    },
  };
}
