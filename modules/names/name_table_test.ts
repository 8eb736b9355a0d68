import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { buildNameTable, nameOf, parseSuffix } from "./name_table.ts";

const m = (id: string, name: string, joined: number, address = `10.0.0.${joined}`) => ({
  id,
  name,
  joined,
  addresses: [address],
});

Deno.test("buildNameTable gives the first admitted a shared name, later ones -2, -3", () => {
  const table = buildNameTable([{
    net: "home",
    members: [m("c", "Web", 3), m("a", "web", 1), m("b", "web", 2), m("d", "web-2", 4)],
  }]);
  assertEquals(nameOf(table, "home", "a"), "web.home.grid");
  assertEquals(nameOf(table, "home", "b"), "web-2.home.grid");
  assertEquals(nameOf(table, "home", "c"), "web-3.home.grid");
  assertEquals(nameOf(table, "home", "d"), "web-2-2.home.grid");
});

Deno.test("buildNameTable: the same name in two nets is two names; no DNS name, no entry", () => {
  const table = buildNameTable([
    { net: "home", members: [m("a", "web", 1), m("b", "a..b", 2), m("c", "x-", 3)] },
    { net: "Work", members: [m("a", "web", 1)] },
    { net: "bad..net", members: [m("z", "z", 1)] },
  ], "lan");
  assertEquals([...table.keys()].sort(), ["a--b.home.lan", "web.home.lan", "web.work.lan"]);
});

Deno.test("buildNameTable: a member name with dots is one label, so it cannot take a name in another net", () => {
  const table = buildNameTable([
    { net: "corp", members: [m("evil", "primary.zz", 1)] },
    { net: "zz.corp", members: [m("real", "primary", 2)] },
  ]);
  assertEquals(nameOf(table, "zz.corp", "real"), "primary.zz.corp.grid");
  assertEquals(nameOf(table, "corp", "evil"), "primary-zz.corp.grid");
});

Deno.test("parseSuffix takes DNS labels, drops outer dots, refuses the rest", async (t) => {
  assertEquals(parseSuffix(".Grid."), "grid");
  assertEquals(parseSuffix("mesh.internal"), "mesh.internal");
  for (const bad of ["", "a b", "-x", "a..b", "x".repeat(101)]) {
    await t.step(JSON.stringify(bad), () => void assertThrows(() => parseSuffix(bad), RangeError));
  }
});
