/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests:
 * it throws on anything the format does not allow (a sample before its TYPE,
 * a family split in two, a bad escape, a series twice).
 *
 * @module
 */
import { assert } from "../../kernel/_testing_assert.ts";

/** One sample. */
export interface Sample {
  /** Metric name. */
  name: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** Its value. */
  value: number;
}

/** What an exposition holds. */
export interface Parsed {
  /** TYPE per family. */
  types: Map<string, string>;
  /** HELP per family. */
  help: Map<string, string>;
  /** The samples, in order. */
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Reads labels `{a="x",b="y"}` by the exposition rules (\\, \" and \n escapes). */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`Bad label name "${name}" in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`Unquoted label value in: ${line}`);
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`Bad escape \\${next} in: ${line}`);
      } else if (text[j] === "\n") throw new Error(`Raw line feed in: ${line}`);
      else value += text[j];
    }
    if (text[j] !== '"') throw new Error(`Unterminated label value in: ${line}`);
    if (name in labels) throw new Error(`Label "${name}" twice in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i !== text.length) throw new Error(`Expected , after a label in: ${line}`);
  }
  return labels;
}

/** A strict reader of the Prometheus text format 0.0.4: throws on anything it does not allow. */
export function parseExposition(text: string): Parsed {
  assert(text.endsWith("\n"), "ends with a line feed");
  const out: Parsed = { types: new Map(), help: new Map(), samples: [] };
  const seen = new Set<string>();
  const done = new Set<string>();
  let current = "";
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, what, name, rest] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`Bad metric name in: ${line}`);
      if (name !== current) {
        if (done.has(name)) throw new Error(`Family ${name} split in two`);
        if (current) done.add(current);
        current = name;
      }
      const map = what === "HELP" ? out.help : out.types;
      if (map.has(name)) throw new Error(`Second ${what} for ${name}`);
      if (
        what === "TYPE" && !["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)
      ) {
        throw new Error(`Bad type in: ${line}`);
      }
      map.set(name, rest);
      continue;
    }
    if (line.startsWith("#") || line === "") throw new Error(`Unexpected line: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`Bad sample line: ${line}`);
    const [, name, labelText, valueText] = m;
    if (name !== current) throw new Error(`Sample ${name} outside its family`);
    if (!out.types.has(name)) throw new Error(`Sample ${name} before its TYPE`);
    const value = /^[+-]Inf$|^NaN$/.test(valueText)
      ? Number(valueText.replace("Inf", "Infinity"))
      : Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`Bad value in: ${line}`);
    const labels = parseLabels(labelText ?? "", line);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`Series twice: ${line}`);
    seen.add(key);
    out.samples.push({ name, labels, value });
  }
  return out;
}

/** The value of the first sample of `name` carrying `labels`. */
export function metricValue(
  p: Parsed,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return p.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}
