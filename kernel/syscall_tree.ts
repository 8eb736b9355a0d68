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
  /** Times it accepted and kept the promise. */
  accepts: number;
  /** Times it rejected. */
  rejects: number;
  /** Times it broke its promise (threw, or an accepted reply failed verification). */
  broken: number;
  /** The most recent outcome decides whether a module is skipped here. */
  last: "accept" | "reject" | "broken";
}

/** One recorded outcome, for status output and tests. */
export interface TreeEntry extends Outcome {
  /** The key components of the prefix, root first. */
  prefix: string[];
  /** The module's id (text). */
  module: string;
}

interface TreeNode {
  children: Map<string, TreeNode>;
  outcomes: Map<string, Outcome>;
}

/** A module is demoted (tried last) once its broken promises outweigh its kept ones. */
export const BROKEN_WEIGHT = 4;

/** Default bound on entries deeper than {@link SHALLOW_DEPTH} (see {@link SyscallTreeOptions}). */
export const MAX_TREE_ENTRIES = 100_000;

/** Entries at this depth or shallower, e.g. (promise, module), are always recorded. */
export const SHALLOW_DEPTH = 2;

/** Options for {@link SyscallTree.record}. */
export interface RecordOptions {
  /** Also record the outcome at the prefix of this length (e.g. 2: promise and module). */
  alsoAt?: number;
}

/** Options for {@link SyscallTree}. */
export interface SyscallTreeOptions {
  /**
   * Most entries kept. Once reached, every entry deeper than
   * {@link SHALLOW_DEPTH} (per-argument history) is dropped and learning
   * starts again from the shallow history, which stays exact: a long-running
   * agent asked for many distinct arguments stays bounded, and a stream of
   * junk keys cannot freeze what the tree learns.
   */
  maxEntries?: number;
}

function newNode(): TreeNode {
  return { children: new Map(), outcomes: new Map() };
}

/** The acceptance history, keyed by parms prefixes. */
export class SyscallTree {
  #root: TreeNode = newNode();
  #size = 0;
  #maxEntries: number;

  /** An empty tree: the kernel starts knowing nothing. */
  constructor(options: SyscallTreeOptions = {}) {
    this.#maxEntries = options.maxEntries ?? MAX_TREE_ENTRIES;
  }

  /** Number of (prefix, module) entries recorded. */
  get size(): number {
    return this.#size;
  }

  /**
   * Records what `module` did with a message whose key starts with `prefix`;
   * with `alsoAt`, records it at that shorter prefix as well, in one walk.
   */
  record(
    prefix: readonly string[],
    module: string,
    what: "accept" | "reject" | "broken",
    options: RecordOptions = {},
  ): void {
    const alsoAt = options.alsoAt ?? -1;
    let node = this.#root;
    if (alsoAt === 0) this.#count(node, module, what, false);
    for (let i = 0; i < prefix.length; i++) {
      let next = node.children.get(prefix[i]);
      if (!next) {
        if (i >= SHALLOW_DEPTH && this.#size >= this.#maxEntries) {
          this.#evaporateDeep(); // full: see SyscallTreeOptions
          if (this.#size >= this.#maxEntries) return; // the shallow history alone fills the bound
          // Walk again; the shorter prefix (alsoAt <= i) is already counted.
          return this.record(prefix, module, what, { alsoAt: alsoAt > i ? alsoAt : -1 });
        }
        next = newNode();
        node.children.set(prefix[i], next);
      }
      node = next;
      if (i + 1 === alsoAt && alsoAt < prefix.length) this.#count(node, module, what, false);
    }
    this.#count(node, module, what, prefix.length > SHALLOW_DEPTH);
  }

  #count(node: TreeNode, module: string, what: Outcome["last"], deep: boolean): void {
    let outcome = node.outcomes.get(module);
    if (!outcome) {
      if (deep && this.#size >= this.#maxEntries) {
        this.#evaporateDeep(); // drops `node` too: record the outcome at the shallow levels only
        return;
      }
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
   * Forgets every entry deeper than {@link SHALLOW_DEPTH}: old trails
   * evaporate so new ones can be laid, and the bound holds without freezing
   * what the tree can learn. The shallow history is kept.
   */
  #evaporateDeep(): void {
    let size = this.#root.outcomes.size;
    const walk = (node: TreeNode, depth: number): void => {
      for (const child of node.children.values()) {
        size += child.outcomes.size;
        if (depth + 1 >= SHALLOW_DEPTH) child.children = new Map();
        else walk(child, depth + 1);
      }
    };
    walk(this.#root, 0);
    this.#size = size;
    this.evaporations++;
  }

  /** How many times the deep history was dropped for the size bound. */
  evaporations = 0;

  /**
   * Orders `modules` (ids, in consultation order: builtins first) for a
   * message whose key components are `key`, by each module's deepest record
   * on the key's path (its longest matching prefix):
   * 1. modules whose deepest record is an accept, deepest first, then in
   *    consultation order;
   * 2. modules with no record on the path, in consultation order;
   * 3. demoted modules (last outcome a broken promise, or broken promises
   *    outweighing kept ones), best score first.
   * Modules whose deepest record is a reject are skipped (see {@link skipped}).
   */
  route(key: readonly string[], modules: readonly string[]): string[] {
    const path = this.#path(key);
    let accepted: { module: string; depth: number; order: number }[] | undefined;
    let untried: string[] | undefined;
    let demoted: { module: string; score: number }[] | undefined;
    for (let order = 0; order < modules.length; order++) {
      const module = modules[order];
      let depth = path.length - 1;
      let outcome: Outcome | undefined;
      for (; depth >= 0; depth--) {
        outcome = path[depth].outcomes.get(module);
        if (outcome) break;
      }
      if (!outcome) {
        (untried ??= []).push(module);
        continue;
      }
      if (outcome.last === "reject") continue;
      const score = outcome.accepts - BROKEN_WEIGHT * outcome.broken;
      if (outcome.last === "broken" || (outcome.broken > 0 && score < 0)) {
        (demoted ??= []).push({ module, score });
      } else {
        (accepted ??= []).push({ module, depth, order });
      }
    }
    const out: string[] = [];
    if (accepted) {
      if (accepted.length > 1) accepted.sort((a, b) => b.depth - a.depth || a.order - b.order);
      for (const a of accepted) out.push(a.module);
    }
    if (untried) out.push(...untried);
    if (demoted) {
      demoted.sort((a, b) => b.score - a.score);
      for (const d of demoted) out.push(d.module);
    }
    return out;
  }

  /** The `modules` that {@link route} skips for `key`: their deepest record is a reject. */
  skipped(key: readonly string[], modules: readonly string[]): string[] {
    const path = this.#path(key);
    return modules.filter((module) => {
      for (let depth = path.length - 1; depth >= 0; depth--) {
        const outcome = path[depth].outcomes.get(module);
        if (outcome) return outcome.last === "reject";
      }
      return false;
    });
  }

  /** The nodes along `key`, root first, as far as the tree goes. */
  #path(key: readonly string[]): TreeNode[] {
    const path = [this.#root];
    let node: TreeNode | undefined = this.#root;
    for (let depth = 0; depth < key.length; depth++) {
      node = node.children.get(key[depth]);
      if (!node) break;
      path.push(node);
    }
    return path;
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
