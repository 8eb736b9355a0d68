/**
 * The layout's rules, checked: no import circle anywhere (type imports and
 * `await import()` count), each folder imports only what its layer may
 * (docs/ARCHITECTURE.md), other folders are reached through their `mod.ts`
 * and never through a `_`-prefixed internal file, no `export *`, and no
 * `as never` cast. Run by `deno task check` and by tests/architecture_test.ts.
 *
 * Usage: `deno run --allow-read scripts/architecture.ts` prints one line per
 * problem and exits 1 when there is any.
 *
 * @module
 */

/** One source file: its path from the repository root and its text. */
export interface SourceFile {
  /** Path relative to the repository root, with `/`. */
  readonly path: string;
  /** The file's text. */
  readonly text: string;
}

/** The package a path belongs to: kernel, modules/NAME, builtins, agent, main, or a free folder. */
export function packageOf(path: string): string {
  const parts = path.split("/");
  if (parts.length === 1) return parts[0] === "main.ts" ? "main" : "root";
  if (parts[0] === "modules") return `modules/${parts[1]}`;
  return parts[0];
}

/** Which packages each layer may import (besides itself). Free folders may import anything. */
const MAY_IMPORT: Record<string, (pkg: string) => boolean> = {
  kernel: () => false,
  modules: (pkg) => pkg === "kernel" || pkg.startsWith("modules/"),
  builtins: (pkg) => pkg === "kernel" || pkg.startsWith("modules/"),
  agent: (pkg) => pkg === "kernel" || pkg.startsWith("modules/") || pkg === "builtins",
  main: (pkg) => pkg === "agent" || pkg === "builtins",
};

/** Folders whose files may import anything (tests, benchmarks, scripts). */
const FREE = new Set(["tests", "bench", "scripts", "root"]);

// Built from parts so that this file does not match its own rule.
const NEVER_CAST = new RegExp(["\\bas", "never\\b"].join(" "));

function layerOf(pkg: string): string {
  return pkg.startsWith("modules/") ? "modules" : pkg;
}

function isTest(path: string): boolean {
  return /_test\.ts$/.test(path) || /(^|\/)_testing_[a-z_]+\.ts$/.test(path);
}

/** The local files `file` imports (static, type-only, re-exports and dynamic imports). */
export function importsOf(file: SourceFile): string[] {
  const out: string[] = [];
  // Comments hold examples (`import ... from "./mod.ts"` in doc blocks): leave them out.
  const code = file.text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of code.matchAll(re)) out.push(resolve(file.path, m[1]));
  return out;
}

function resolve(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const seg of spec.split("/")) {
    if (seg === "." || seg === "") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return parts.join("/");
}

function dirOf(path: string): string {
  return path.split("/").slice(0, -1).join("/");
}

/** Every import circle, each as the list of files around it (Tarjan's strongly connected components). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string) => {
    // Iterative DFS: the graph has a few hundred nodes, but stay off the call stack anyway.
    const work: [string, number][] = [[v, 0]];
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const [node, i] = top;
      const edges = graph.get(node) ?? [];
      if (i < edges.length) {
        top[1]++;
        const w = edges[i];
        if (!graph.has(w)) continue;
        if (!indices.has(w)) {
          indices.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) {
          low.set(node, Math.min(low.get(node)!, indices.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(node)!));
      }
      if (low.get(node) === indices.get(node)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== node);
        if (scc.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(scc.sort());
      }
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return cycles;
}

/** Every broken rule, one line each (empty when the layout holds). */
export function checkArchitecture(files: SourceFile[]): string[] {
  const problems: string[] = [];
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file.path, importsOf(file));
  for (const cycle of findCycles(graph)) problems.push(`import circle: ${cycle.join(" -> ")}`);
  for (const file of files) {
    const pkg = packageOf(file.path);
    const layer = layerOf(pkg);
    const code = file.text.replace(/\/\*[\s\S]*?\*\//g, "");
    if (/^\s*export\s*\*\s*from/m.test(code)) {
      problems.push(`${file.path}: export * (name what the folder exports)`);
    }
    if (NEVER_CAST.test(code)) problems.push(`${file.path}: a cast to never (type it instead)`);
    if (FREE.has(pkg) || isTest(file.path)) continue;
    for (const target of graph.get(file.path) ?? []) {
      const tpkg = packageOf(target);
      if (tpkg !== pkg) {
        const allowed = MAY_IMPORT[layer];
        if (!allowed || !allowed(tpkg)) {
          problems.push(`${file.path}: ${layer}/ may not import ${target}`);
          continue;
        }
        if (!target.endsWith("/mod.ts")) {
          problems.push(`${file.path}: imports ${target}; use its folder's mod.ts`);
        }
      } else if (
        target.split("/").pop()!.startsWith("_") && dirOf(target) !== dirOf(file.path)
      ) {
        problems.push(`${file.path}: imports ${target}, internal to ${dirOf(target)}/`);
      }
    }
  }
  return problems;
}

/** The repository's TypeScript files (not node_modules, dist or dot folders). */
export async function readSources(root: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir === "" ? root : `${root}/${dir}`)) {
      const path = dir === "" ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "dist") continue;
        await walk(path);
      } else if (e.name.endsWith(".ts")) {
        files.push({ path, text: await Deno.readTextFile(`${root}/${path}`) });
      }
    }
  };
  await walk("");
  return files.sort((a, b) => a.path < b.path ? -1 : 1);
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const problems = checkArchitecture(await readSources(root));
  for (const p of problems) console.error(p);
  if (problems.length > 0) Deno.exit(1);
}
