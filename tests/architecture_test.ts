import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import {
  checkArchitecture,
  findCycles,
  importsOf,
  readSources,
  type SourceFile,
} from "../scripts/architecture.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("the repository keeps its layout: no import circle, layers, mod.ts faces", async () => {
  const problems = checkArchitecture(await readSources(ROOT));
  assertEquals(problems, []);
});

Deno.test("importsOf() sees static, type-only, re-exported and dynamic imports, not comments", () => {
  const file: SourceFile = {
    path: "builtins/x.ts",
    text: [
      '/** import { a } from "./in_doc.ts"; */',
      'import { a } from "./a.ts";',
      'import type { B } from "../kernel/mod.ts";',
      'export { c } from "./c.ts";',
      'const d = await import("../agent/d.ts");',
      'import "./side.ts";',
      '// import { e } from "./commented.ts";',
    ].join("\n"),
  };
  assertEquals(importsOf(file), [
    "builtins/a.ts",
    "kernel/mod.ts",
    "builtins/c.ts",
    "agent/d.ts",
    "builtins/side.ts",
  ]);
});

Deno.test("findCycles() finds a circle through several files and a file importing itself", () => {
  const graph = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a", "d"]],
    ["d", []],
    ["e", ["e"]],
  ]);
  assertEquals(findCycles(graph), [["a", "b", "c"], ["e"]]);
  assertEquals(findCycles(new Map([["a", ["b"]], ["b", []]])), []);
});

Deno.test("checkArchitecture() names each broken rule", async (t) => {
  const rows: [string, SourceFile[], string][] = [
    ["a circle", [
      { path: "builtins/a.ts", text: 'import "./b.ts";' },
      { path: "builtins/b.ts", text: 'import type { A } from "./a.ts";' },
    ], "import circle: builtins/a.ts -> builtins/b.ts"],
    ["the kernel importing a module", [
      { path: "kernel/x.ts", text: 'import { y } from "../modules/mesh/mod.ts";' },
      { path: "modules/mesh/mod.ts", text: "" },
    ], "kernel/ may not import modules/mesh/mod.ts"],
    ["a builtin importing the composition root", [
      { path: "builtins/x.ts", text: 'import { y } from "../agent/mod.ts";' },
      { path: "agent/mod.ts", text: "" },
    ], "builtins/ may not import agent/mod.ts"],
    ["another folder's file instead of its mod.ts", [
      { path: "modules/mesh/x.ts", text: 'import { y } from "../membership/nets.ts";' },
      { path: "modules/membership/nets.ts", text: "" },
    ], "use its folder's mod.ts"],
    ["another folder's internal file", [
      { path: "kernel/x.ts", text: 'import { y } from "./peers/_ws_link.ts";' },
      { path: "kernel/peers/_ws_link.ts", text: "" },
    ], "internal to kernel/peers/"],
    ["export *", [{ path: "kernel/mod.ts", text: 'export * from "./x.ts";' }], "export *"],
    [
      "a cast to never",
      [{ path: "kernel/x.ts", text: "const a = b as " + "never;" }],
      "cast to never",
    ],
  ];
  for (const [name, files, want] of rows) {
    await t.step(name, () => {
      const problems = checkArchitecture(files);
      assert(problems.some((p) => p.includes(want)), `${want} not in ${JSON.stringify(problems)}`);
    });
  }
  await t.step("tests may reach internals", () => {
    assertEquals(
      checkArchitecture([
        { path: "kernel/peers/hub_test.ts", text: 'import { y } from "../_testing_assert.ts";' },
        { path: "kernel/_testing_assert.ts", text: "" },
        { path: "tests/x_test.ts", text: 'import { y } from "../kernel/peers/_ws_link.ts";' },
        { path: "kernel/peers/_ws_link.ts", text: "" },
      ]),
      [],
    );
  });
});
