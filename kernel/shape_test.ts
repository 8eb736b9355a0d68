import { assertEquals, assertThrows } from "./_testing_assert.ts";
import { CborFloat, decodeValue, Tagged } from "./codec.ts";
import { optional, readShape, record, text, whole } from "./shape.ts";

const fail = (why: string) => new Error(why);
const OPTIONAL_ONLY = record({ name: optional(text()), seq: optional(whole()) });

Deno.test("record() reads a plain map and refuses the values Grid-CBOR adds where a map is wanted", async (t) => {
  await t.step("a plain map", () => {
    assertEquals(readShape(OPTIONAL_ONLY, { name: "a" }, fail), { name: "a" });
  });
  const others: [string, unknown][] = [
    ["a Map (a map with a key that is not text)", decodeValue(Uint8Array.fromHex("a10102"))],
    ["a Tagged", new Tagged(1001, {})],
    ["a CborFloat", new CborFloat(1)],
  ];
  for (const [name, value] of others) {
    await t.step(name, () => {
      assertThrows(() => readShape(OPTIONAL_ONLY, value, fail), Error, "must be a map");
    });
  }
});

Deno.test("whole() refuses a whole float and a bigint", () => {
  assertThrows(() => readShape(whole(), new CborFloat(3), fail), Error, "whole number");
  assertThrows(() => readShape(whole(), 2n ** 60n, fail), Error, "whole number");
});
