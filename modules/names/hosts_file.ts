/**
 * The hosts-file fallback (`grid serve --hosts-file /etc/hosts`): a block of
 * `ADDRESS NAME` lines between `# BEGIN grid` and `# END grid`, rewritten
 * when the names change; every other line of the file stays as it was.
 *
 * @module
 */
import { writeTextFileAtomic } from "../../kernel/mod.ts";
import type { NameTable } from "./name_table.ts";

/** The block's first line. */
export const BEGIN_MARK = "# BEGIN grid";
/** The block's last line. */
export const END_MARK = "# END grid";
/** Largest hosts file grid rewrites (a bound, not a limit anyone meets). */
export const MAX_HOSTS_BYTES = 4 << 20;

/** The block's lines for `table`: one `ADDRESS NAME` line per address, sorted by name. */
export function hostsLines(table: NameTable): string[] {
  const lines: string[] = [];
  for (const e of [...table.values()].sort((a, b) => a.fqdn < b.fqdn ? -1 : 1)) {
    for (const a of [...e.v4, ...e.v6]) lines.push(`${a} ${e.fqdn}`);
  }
  return lines;
}

/**
 * `text` with its grid block replaced by `lines` (where the old block was,
 * else at the end); no lines removes the block. The same input gives the
 * same output, so rewriting twice changes nothing.
 */
export function withHostsBlock(text: string, lines: readonly string[]): string {
  const all = text.split("\n");
  const begins = all.flatMap((l, i) => l.trim() === BEGIN_MARK ? [i] : []);
  const ends = all.flatMap((l, i) => l.trim() === END_MARK ? [i] : []);
  // Exactly one BEGIN and one END after it is a block this writes; anything else (a stray
  // BEGIN someone left) is not touched, or the lines after it would be taken for the block.
  if (begins.length > 1 || ends.length > 1 || (begins.length !== ends.length)) {
    throw new RangeError(
      `The hosts file's "${BEGIN_MARK}" and "${END_MARK}" lines do not pair up; not rewriting it`,
    );
  }
  const begin = begins[0] ?? -1;
  const endAt = ends[0] !== undefined && ends[0] > begin ? ends[0] : -1;
  if (begin >= 0 && endAt < 0) {
    throw new RangeError(
      `The hosts file's "${END_MARK}" comes before its "${BEGIN_MARK}"; not rewriting it`,
    );
  }
  const block = lines.length === 0 ? [] : [
    BEGIN_MARK,
    "# managed by grid serve --hosts-file; edits here are lost",
    ...lines,
    END_MARK,
  ];
  let out: string[];
  if (begin >= 0 && endAt >= 0) {
    out = [...all.slice(0, begin), ...block, ...all.slice(endAt + 1)];
  } else {
    // No block: append.
    out = [...all];
    if (block.length > 0) {
      if (out.length > 0 && out[out.length - 1] === "") out.pop();
      out.push(...block, "");
    }
  }
  return out.join("\n");
}

/**
 * Rewrites the grid block of the hosts file at `given` (through a symlink,
 * the file it points at); nothing when it is already right. Throws, writing
 * nothing, when its block marks do not pair up. Writes a sibling file and renames it over the original;
 * where that cannot work (`/etc/hosts` bind-mounted into a container or a
 * namespace: EBUSY, EXDEV), writes the file in place. Returns whether it wrote.
 */
export async function updateHostsFile(given: string, lines: readonly string[]): Promise<boolean> {
  // A symlinked hosts file (NixOS, some containers) is rewritten where it points, so the link stays.
  const path = await Deno.realPath(given).catch(() => given);
  let text = "";
  try {
    const stat = await Deno.stat(path);
    if (stat.size > MAX_HOSTS_BYTES) {
      throw new RangeError(
        `Hosts file "${path}" is over ${MAX_HOSTS_BYTES} bytes; not rewriting it`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const next = withHostsBlock(text, lines);
  if (next === text) return false;
  let mode = 0o644;
  try {
    mode = (await Deno.stat(path)).mode ?? mode;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  try {
    await writeTextFileAtomic(path, next, { mode: mode & 0o777 });
  } catch (err) {
    // Only a file bind-mounted over (a container's or a namespace's /etc/hosts: EBUSY, EXDEV)
    // is written in place; any other failure (a full disk) leaves the file as it was.
    if (!(err instanceof Deno.errors.Busy) && !/EBUSY|EXDEV|cross-device|busy/i.test(String(err))) {
      throw err;
    }
    await Deno.writeTextFile(path, next);
  }
  return true;
}
