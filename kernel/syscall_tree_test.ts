import { assert, assertEquals } from "./_testing_assert.ts";
import { BROKEN_WEIGHT, SyscallTree } from "./syscall_tree.ts";

const MODULES = ["a", "b", "c"];

Deno.test("SyscallTree.route() orders modules by their deepest record on the key", async (t) => {
  const cases: [string, (tree: SyscallTree) => void, string[], string[]][] = [
    ["an empty tree keeps consultation order", () => {}, ["p", "m", "x"], ["a", "b", "c"]],
    ["an accept moves a module first", (tr) => tr.record(["p", "m"], "c", "accept"), [
      "p",
      "m",
      "x",
    ], [
      "c",
      "a",
      "b",
    ]],
    [
      "a deeper accept beats a shallower one",
      (tr) => {
        tr.record(["p", "m"], "a", "accept");
        tr.record(["p", "m", "x"], "b", "accept");
      },
      ["p", "m", "x"],
      ["b", "a", "c"],
    ],
    [
      "the deeper accept does not apply to another argument",
      (tr) => {
        tr.record(["p", "m"], "a", "accept");
        tr.record(["p", "m", "x"], "b", "accept");
      },
      ["p", "m", "y"],
      ["a", "b", "c"],
    ],
    ["a reject at the key skips the module", (tr) => tr.record(["p", "m", "x"], "a", "reject"), [
      "p",
      "m",
      "x",
    ], [
      "b",
      "c",
    ]],
    [
      "an accept deeper than a reject wins",
      (tr) => {
        tr.record(["p", "m"], "a", "reject");
        tr.record(["p", "m", "x"], "a", "accept");
      },
      ["p", "m", "x"],
      ["a", "b", "c"],
    ],
    [
      "a reject under another promise does not matter",
      (tr) => tr.record(["q", "m"], "a", "reject"),
      [
        "p",
        "m",
      ],
      ["a", "b", "c"],
    ],
    [
      "a broken promise demotes below untried modules",
      (tr) => {
        tr.record(["p", "m"], "a", "accept");
        tr.record(["p", "m"], "a", "broken");
      },
      ["p", "m", "x"],
      ["b", "c", "a"],
    ],
    [
      "kept promises must outweigh broken ones to recover",
      (tr) => {
        tr.record(["p", "m"], "a", "broken");
        for (let i = 0; i < BROKEN_WEIGHT - 1; i++) tr.record(["p", "m"], "a", "accept");
      },
      ["p", "m"],
      ["b", "c", "a"],
    ],
    [
      "and recover once they do",
      (tr) => {
        tr.record(["p", "m"], "a", "broken");
        for (let i = 0; i < BROKEN_WEIGHT; i++) tr.record(["p", "m"], "a", "accept");
      },
      ["p", "m"],
      ["a", "b", "c"],
    ],
    [
      "demoted modules are ordered by score",
      (tr) => {
        tr.record(["p", "m"], "a", "broken");
        tr.record(["p", "m"], "a", "broken");
        tr.record(["p", "m"], "b", "broken");
      },
      ["p", "m"],
      ["c", "b", "a"],
    ],
  ];
  for (const [name, setup, key, want] of cases) {
    await t.step(name, () => {
      const tree = new SyscallTree();
      setup(tree);
      assertEquals(tree.route(key, MODULES), want);
    });
  }
});

Deno.test("SyscallTree.skipped() names exactly the modules route() leaves out", () => {
  const tree = new SyscallTree();
  tree.record(["p", "m", "x"], "a", "reject");
  tree.record(["p", "m"], "c", "reject");
  tree.record(["p", "m", "x"], "c", "accept");
  assertEquals(tree.route(["p", "m", "x"], MODULES), ["c", "b"]);
  assertEquals(tree.skipped(["p", "m", "x"], MODULES), ["a"]);
  assertEquals(tree.skipped(["p", "m", "y"], MODULES), ["c"]);
});

Deno.test("SyscallTree counts outcomes per prefix and module", () => {
  const tree = new SyscallTree();
  tree.record(["p", "m"], "a", "accept");
  tree.record(["p", "m"], "a", "accept");
  tree.record(["p", "m"], "a", "broken");
  assertEquals(tree.outcomeAt(["p", "m"], "a"), {
    accepts: 2,
    rejects: 0,
    broken: 1,
    last: "broken",
  });
  assertEquals(tree.outcomeAt(["p"], "a"), undefined);
  assertEquals(tree.size, 1);
});

Deno.test("SyscallTree stays bounded yet keeps learning: deep trails evaporate, shallow ones stay", () => {
  const tree = new SyscallTree({ maxEntries: 10 });
  tree.record(["p", "m"], "b", "accept");
  for (let i = 0; i < 100; i++) {
    tree.record(["p", "m", `arg${i}`], "a", "reject");
    assert(tree.size <= 10, `size ${tree.size} over the bound after ${i} records`);
  }
  assert(tree.evaporations > 0, "the deep history was never dropped");
  assertEquals(
    tree.outcomeAt(["p", "m"], "b")?.accepts,
    1,
    "the (promise, module) history is kept",
  );
  assertEquals(
    tree.outcomeAt(["p", "m", "arg99"], "a")?.last,
    "reject",
    "the newest trail is learned",
  );
  assertEquals(tree.outcomeAt(["p", "m", "arg0"], "a"), undefined, "old trails evaporated");
  // A junk stream cannot freeze learning: a new route is still recorded after it.
  for (let i = 0; i < 50; i++) tree.record(["p", "m", `junk${i}`], "x", "reject");
  tree.record(["p", "m", "wanted"], "a", "accept", { alsoAt: 2 });
  assertEquals(tree.outcomeAt(["p", "m", "wanted"], "a")?.last, "accept");
  assertEquals(
    tree.outcomeAt(["p", "m"], "a")?.accepts,
    1,
    "alsoAt is counted once across an evaporation",
  );
});
