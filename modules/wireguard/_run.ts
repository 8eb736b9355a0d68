/**
 * Spawns `wg`, `ip` or `wireguard-go` (the only programs the release binary
 * may run), optionally inside a network namespace through `ip netns exec`.
 * Arguments are an argv array, never a shell line; secrets are passed to
 * these tools by file path only.
 *
 * @module
 */
import { WireGuardError } from "./wg_error.ts";

/** The programs the WireGuard layer runs. */
export type WgTool = "wg" | "ip" | "wireguard-go";

/** Where and how to run one tool. */
export interface RunToolOptions {
  /** Run inside this network namespace (`ip netns exec NS ...`). */
  netns?: string;
  /** Bytes written to the tool's stdin (e.g. a key for `wg pubkey`). */
  stdin?: Uint8Array;
}

/** Exit code and text output of one run. */
export interface RunToolResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error, trimmed to one line. */
  stderr: string;
}

/** argv for `tool args...`, wrapped in `ip netns exec` when a namespace is given. */
export function toolArgv(tool: WgTool, args: string[], netns?: string): [WgTool, string[]] {
  return netns === undefined ? [tool, args] : ["ip", ["netns", "exec", netns, tool, ...args]];
}

/** Runs a tool to completion; a non-zero exit is returned, not thrown. */
export async function runTool(
  tool: WgTool,
  args: string[],
  options: RunToolOptions = {},
): Promise<RunToolResult> {
  const [cmd, argv] = toolArgv(tool, args, options.netns);
  let output: Deno.CommandOutput;
  try {
    const child = new Deno.Command(cmd, {
      args: argv,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).spawn();
    if (options.stdin) {
      const writer = child.stdin.getWriter();
      await writer.write(options.stdin);
      await writer.close();
    }
    output = await child.output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new WireGuardError(`Cannot run "${cmd}": it is not installed`, { cause: err });
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new WireGuardError(`Cannot run "${cmd}": not permitted`, { cause: err });
    }
    throw err;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr).trim().replace(/\s*\n\s*/g, "; ").slice(0, 400),
  };
}

/** Runs a tool and throws `Cannot <doing>: <stderr>` when it fails; returns stdout. */
export async function runToolOrThrow(
  doing: string,
  tool: WgTool,
  args: string[],
  options: RunToolOptions = {},
): Promise<string> {
  const result = await runTool(tool, args, options);
  if (result.code !== 0) {
    throw new WireGuardError(
      `Cannot ${doing}: ${result.stderr || `${tool} exited with code ${result.code}`}`,
    );
  }
  return result.stdout;
}
