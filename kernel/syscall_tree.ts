/**
 * The syscall tree: the kernel's acceptance history, which is also its
 * routing table. Each node is a parms prefix (one cache-key component per
 * level); each records, per module, how often it accepted, rejected, or
 * accepted and then failed (a broken promise). It starts empty and fills as
 * the kernel consults modules: "ant routing", paths that worked get followed.
 *
 * @module
 */

/** What one module did at one prefix. */
export interface Outcome {
  accepts: number;
  rejects: number;
  broken: number;
  /** The most recent outcome decides whether a module is skipped here. */
  last: "accept" | "reject" | "broken";
}

/** One recorded outcome, for status output and tests. */
export interface TreeEntry extends Outcome {
  prefix: string[];
  module: string;
}

interface TreeNode {
  children: Map<string, TreeNode>;
  outcomes: Map<string, Outcome>;
}

/** A module is demoted (tried last) once its broken promises outweigh its kept ones. */
export const BROKEN_WEIGHT = 4;

function newNode(): TreeNode {
  return { children: new Map(), outcomes: new Map() };
}

/** The acceptance history, keyed by parms prefixes. */
export class SyscallTree {
  #root: TreeNode = newNode();
  #size = 0;

  /** Number of (prefix, module) entries recorded. */
  get size(): number {
    return this.#size;
  }

  /** Records what `module` did with a message whose key starts with `prefix`. */
  record(prefix: readonly string[], module: string, what: "accept" | "reject" | "broken"): void {
    let node = this.#root;
    for (const part of prefix) {
      let next = node.children.get(part);
      if (!next) {
        next = newNode();
        node.children.set(part, next);
      }
      node = next;
    }
    let outcome = node.outcomes.get(module);
    if (!outcome) {
      outcome = { accepts: 0, rejects: 0, broken: 0, last: what };
      node.outcomes.set(module, outcome);
      this.#size++;
    }
    if (what === "accept") outcome.accepts++;
    else if (what === "reject") outcome.rejects++;
    else outcome.broken++;
    outcome.last = what;
  }

  /**
   * Orders `modules` (ids, in consultation order: builtins first) for a
   * message whose key components are `key`:
   * 1. modules whose deepest record on the key's path is an accept, deepest
   *    first, then in consultation order;
   * 2. modules with no record on the path, in consultation order;
   * 3. demoted modules (broken promises outweigh kept ones).
   * Modules whose deepest record on the path is a reject are skipped.
   */
  route(key: readonly string[], modules: readonly string[]): string[] {
    const deepest = new Map<string, { depth: number; outcome: Outcome }>();
    let node: TreeNode | undefined = this.#root;
    for (let depth = 0; node; depth++) {
      for (const [module, outcome] of node.outcomes) deepest.set(module, { depth, outcome });
      if (depth >= key.length) break;
      node = node.children.get(key[depth]);
    }
    const accepted: { module: string; depth: number; order: number }[] = [];
    const untried: string[] = [];
    const demoted: { module: string; score: number }[] = [];
    modules.forEach((module, order) => {
      const found = deepest.get(module);
      if (!found) return untried.push(module);
      const { depth, outcome } = found;
      if (outcome.last === "reject") return;
      const score = outcome.accepts - BROKEN_WEIGHT * outcome.broken;
      if (outcome.broken > 0 && score < 0) return demoted.push({ module, score });
      if (outcome.last === "broken") return demoted.push({ module, score });
      accepted.push({ module, depth, order });
    });
    accepted.sort((a, b) => b.depth - a.depth || a.order - b.order);
    demoted.sort((a, b) => b.score - a.score);
    return [...accepted.map((a) => a.module), ...untried, ...demoted.map((d) => d.module)];
  }

  /** The outcome recorded for `module` exactly at `prefix`, if any. */
  outcomeAt(prefix: readonly string[], module: string): Outcome | undefined {
    let node: TreeNode | undefined = this.#root;
    for (const part of prefix) node = node?.children.get(part);
    const outcome = node?.outcomes.get(module);
    return outcome && { ...outcome };
  }

  /** Every recorded entry, depth first (for `grid status` and debugging). */
  entries(): TreeEntry[] {
    const out: TreeEntry[] = [];
    const walk = (node: TreeNode, prefix: string[]) => {
      for (const [module, outcome] of node.outcomes) out.push({ prefix, module, ...outcome });
      for (const [part, child] of node.children) walk(child, [...prefix, part]);
    };
    walk(this.#root, []);
    return out;
  }
}
