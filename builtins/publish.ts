/**
 * `grid publish FILE --name NAME [--promise TEXT] [--kind js|wasm|native]
 * [--grant CAP]... [--accepts HASH]...`: stores a module's bytes in the CAS
 * and writes a new symbol table naming it (the old table stays in the CAS),
 * then points config at the new one. Prints both hashes.
 *
 * @module
 */
import type { CID, ModuleKind, Parm, SymbolEntry } from "../kernel/mod.ts";
import { UsageError } from "../kernel/base/mod.ts";
import type { Command } from "./_command.ts";
import { flagList, flagText, parseFlags } from "./_flags.ts";

const USAGE =
  "grid publish FILE --name NAME [--promise TEXT] [--kind js|wasm|native] [--grant get|put|HASH[/HASH[/ARG]...]]... [--accepts HASH]...";

/** Kind from a file name's extension, or undefined when it does not say. */
export function kindFromName(file: string): ModuleKind | undefined {
  if (/\.m?js$/.test(file)) return "js";
  if (/\.wasm$/.test(file)) return "wasm";
  return undefined;
}

/** Parses one `--grant`: `get`, `put`, or `PROMISE[/MODULE[/ARG]...]` (hashes as text). */
export async function parseGrant(spec: string): Promise<Parm[]> {
  const { CAS_MODULE, GET_PROMISE, parseHash, PUT_PROMISE } = await import("../kernel/mod.ts");
  // Named grants: what a module may ask the kernel for.
  const namedGrants: Record<string, Parm[]> = {
    get: [GET_PROMISE.cid, CAS_MODULE],
    put: [PUT_PROMISE.cid, CAS_MODULE],
  };
  const named = namedGrants[spec];
  if (named) return named;
  const [promise, module, ...args] = spec.split("/");
  if (!promise) {
    throw new UsageError(`Invalid grant "${spec}": use get, put or PROMISE[/MODULE[/ARG]...]`);
  }
  const prefix: Parm[] = [parseHash(promise)];
  if (module) prefix.push(parseHash(module));
  prefix.push(...args.map(decodeURIComponent));
  return prefix;
}

/** The promise text used when `--promise` is not given. */
export function defaultPromise(name: string, kind: ModuleKind): string {
  return `grid/module/${name}: I ask this node to run the ${kind} module "${name}" that its publisher shared by hash, and I promise to give it no capability beyond the grant it was published with.`;
}

async function readModule(path: string): Promise<Uint8Array<ArrayBuffer>> {
  const { CasError, MAX_BLOB } = await import("../kernel/mod.ts");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot publish "${path}": no such file`);
    }
    throw err;
  }
  if (!info.isFile) throw new UsageError(`Cannot publish "${path}": not a regular file`);
  if (info.size > MAX_BLOB) {
    throw new CasError(
      `Cannot publish "${path}": ${info.size} bytes is over the ${MAX_BLOB}-byte limit`,
    );
  }
  return await Deno.readFile(path);
}

/** The publish command. */
export const command: Command = {
  name: "publish",
  promise:
    "I promise that the module I publish is mine to share and does what its promise says, and I ask this node to keep it under its hash and name it in a new symbol table.",
  usage: USAGE,
  summary: "store a module by hash and name it in a new symbol table; prints both hashes",
  group: "content",
  options: [
    ["FILE", "the module: .js, .wasm, or a native executable"],
    ["--name NAME", "the name to run it by: grid NAME"],
    ["--promise TEXT", "the promise it makes (default a generic one)"],
    ["--kind js|wasm|native", "what it is (default from the file name)"],
    [
      "--grant CAP",
      "what it may ask the kernel for: get, put, or PROMISE[/MODULE[/ARG]...] (repeatable)",
    ],
    ["--accepts HASH", "a promise it accepts from callers (repeatable)"],
  ],
  async run(args, ctx) {
    const flags = await parseFlags(
      args,
      {
        name: { type: "string" },
        promise: { type: "string" },
        kind: { type: "string" },
        grant: { type: "string", multiple: true },
        accepts: { type: "string", multiple: true },
      },
      USAGE,
      { min: 1, max: 1 },
    );
    const [
      {
        hashText,
        hashToText,
        isAccept,
        isSymbolName,
        parseHash,
        putMessage,
        RejectedError,
        rejectReason,
        withFileLock,
      },
      { commitSymbols, currentSymbols, withEntry },
    ] = await Promise.all([import("../kernel/mod.ts"), import("../modules/exec/mod.ts")]);
    const file = flags.positionals[0];
    const name = flagText(flags, "name");
    if (!name) throw new UsageError(`Usage: ${USAGE}`);
    if (!isSymbolName(name)) {
      throw new UsageError(
        `Invalid name "${name}": use lowercase letters, digits, ".", "_" or "-"`,
      );
    }
    const kindFlag = flagText(flags, "kind");
    if ((kindFlag ?? "js") === "js" && /\.(m?ts|tsx)$/.test(file)) {
      throw new UsageError(
        `Cannot publish "${file}": JS modules run as JavaScript (a compiled grid cannot strip types); bundle it first: deno bundle --platform browser ${file} -o OUT.js`,
      );
    }
    const kind = (kindFlag ?? kindFromName(file)) as ModuleKind | undefined;
    if (!kind) {
      throw new UsageError(
        `Cannot tell the kind of "${file}" from its name; pass --kind js|wasm|native`,
      );
    }
    if (!["js", "wasm", "native"].includes(kind)) {
      throw new UsageError(`Invalid kind "${kind}": use js, wasm or native`);
    }
    const bytes = await readModule(file);
    if (kind === "wasm" && !WebAssembly.validate(bytes)) {
      throw new UsageError(`Cannot publish "${file}": not a valid WebAssembly module`);
    }
    const promiseText = flagText(flags, "promise") ?? defaultPromise(name, kind);
    if (promiseText.trim().length === 0 || promiseText.length > 4096) {
      throw new UsageError("A promise is 1 to 4096 characters of text");
    }
    const promise = hashText(promiseText);
    const reply = await ctx.call(putMessage(bytes));
    if (!isAccept(reply)) {
      const { code, reason } = rejectReason(reply);
      throw new RejectedError(code, `Cannot store "${file}": ${reason}`);
    }
    const module = reply[1] as CID;
    const entry: SymbolEntry = { module, promise, promiseText, kind };
    const accepts = flagList(flags, "accepts").map(parseHash);
    if (accepts.length > 0) entry.accepts = [promise, ...accepts.filter((a) => !a.equals(promise))];
    const grant: Parm[][] = [];
    for (const spec of flagList(flags, "grant")) grant.push(await parseGrant(spec));
    if (grant.length > 0) entry.grant = grant;
    // Under config's lock: two publishes at once both land in the table.
    const { previous, symbols } = await withFileLock(ctx.node.home.config, async () => {
      const { table } = await currentSymbols(ctx.node.home, ctx.node.cas);
      const home = ctx.node.home;
      const symbols = await commitSymbols(home, ctx.node.cas, withEntry(table, name, entry));
      return { previous: table.get(name), symbols };
    });
    if (previous && !previous.module.equals(module)) {
      ctx.io.stderr(
        `grid: "${name}" was ${hashToText(previous.module)}; now ${hashToText(module)}`,
      );
    }
    await ctx.io.stdout(`module  ${hashToText(module)}\nsymbols ${hashToText(symbols)}\n`);
    return 0;
  },
};
