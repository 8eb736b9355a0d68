/**
 * The hosts-file fallback (`grid serve --hosts-file /etc/hosts`): a block of
 * `ADDRESS NAME` lines between `# BEGIN grid` and `# END grid`, rewritten
 * when the names change; every other line of the file stays as it was.
 *
 * @module
 */
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
  const begin = all.findIndex((l) => l.trim() === BEGIN_MARK);
  const endAt = begin < 0 ? -1 : all.findIndex((l, i) => i > begin && l.trim() === END_MARK);
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
    // No block (or a BEGIN without END, left as it is): append.
    out = [...all];
    if (block.length > 0) {
      if (out.length > 0 && out[out.length - 1] === "") out.pop();
      out.push(...block, "");
    }
  }
  return out.join("\n");
}

/**
 * Rewrites the grid block of the hosts file at `path`; nothing when it is
 * already right. Writes a sibling file and renames it over the original;
 * where that cannot work (`/etc/hosts` bind-mounted into a container or a
 * namespace: EBUSY, EXDEV), writes the file in place. Returns whether it wrote.
 */
export async function updateHostsFile(path: string, lines: readonly string[]): Promise<boolean> {
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
  const tmp = `${path}.grid-${crypto.randomUUID().slice(0, 8)}`;
  let mode = 0o644;
  try {
    mode = (await Deno.stat(path)).mode ?? mode;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  try {
    await Deno.writeTextFile(tmp, next, { mode: mode & 0o777 });
    await Deno.rename(tmp, path);
  } catch {
    // A bind-mounted file (EBUSY, EXDEV) or a directory we may not write in:
    // write the file itself, and let that error, if any, be the one reported.
    await Deno.remove(tmp).catch(() => {}); // gone or never written: either is fine
    await Deno.writeTextFile(path, next);
  }
  return true;
}
