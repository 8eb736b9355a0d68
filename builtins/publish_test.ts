import { assertEquals, assertRejects } from "../kernel/_testing_assert.ts";
import { CAS_MODULE, GET_PROMISE, HashError, hashText, UsageError } from "../kernel/mod.ts";
import { kindFromName, parseGrant } from "./publish.ts";

Deno.test("kindFromName() reads the kind from the extension, or says it cannot", async (t) => {
  const rows: [string, string | undefined][] = [
    ["a.js", "js"],
    ["a.mjs", "js"],
    ["dir/a.ts", undefined],
    ["a.wasm", "wasm"],
    ["a.sh", undefined],
    ["binary", undefined],
  ];
  for (const [file, kind] of rows) await t.step(file, () => assertEquals(kindFromName(file), kind));
});

Deno.test("parseGrant() knows get and put, and takes hash/hash/arg prefixes", async () => {
  assertEquals(await parseGrant("get"), [GET_PROMISE.cid, CAS_MODULE]);
  const p = hashText("p");
  const m = hashText("m");
  assertEquals(await parseGrant(`${p}/${m}/net%20foo`), [p, m, "net foo"]);
  assertEquals(await parseGrant(`${p}`), [p]);
  await assertRejects(() => parseGrant("everything"), HashError);
  await assertRejects(() => parseGrant(""), UsageError);
});
