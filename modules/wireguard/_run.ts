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
  /**
   * Kill the tool after this many ms (default {@link TOOL_TIMEOUT_MS}): an
   * endpoint host name that does not resolve can block `wg set` for minutes.
   */
  timeoutMs?: number;
}

/** Default limit on one run of a tool. */
export const TOOL_TIMEOUT_MS = 20_000;

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

/** Runs a tool to completion; a non-zero exit (or a timeout, code -1) is returned, not thrown. */
export async function runTool(
  tool: WgTool,
  args: string[],
  options: RunToolOptions = {},
): Promise<RunToolResult> {
  const [cmd, argv] = toolArgv(tool, args, options.netns);
  let output: Deno.CommandOutput;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeoutMs = options.timeoutMs ?? TOOL_TIMEOUT_MS;
  try {
    const child = new Deno.Command(cmd, {
      args: argv,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).spawn();
    timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited just now: nothing to kill.
      }
    }, timeoutMs);
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
  } finally {
    clearTimeout(timer);
  }
  const decoder = new TextDecoder();
  if (timedOut) {
    return {
      code: -1,
      stdout: "",
      stderr: `${tool} timed out after ${Math.round(timeoutMs / 1000)} s`,
    };
  }
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
