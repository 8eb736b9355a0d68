/**
 * What the printing benchmarks share: the median of timed runs and a
 * Markdown table on stdout.
 *
 * @module
 */

/** The median of `xs` (the upper one of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Prints a Markdown table: the header row, a `|---|` rule, then one line a row. */
export function printTable(header: string[], rows: string[][]): void {
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  console.log(line(header));
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(line(r));
}
