import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { inRange, summaryPages } from "./protocol.ts";

Deno.test("summaryPages() covers every id once, in bounded pages, open at both ends", async (t) => {
  await t.step("no ids: one page covering everything", () => {
    assertEquals(summaryPages([], 4), [{ after: "", upTo: "" }]);
  });
  await t.step("ten ids in pages of four", () => {
    const ids = Array.from({ length: 10 }, (_, i) => `id${i}`);
    const pages = summaryPages(ids, 4);
    assertEquals(pages, [
      { after: "", upTo: "id3" },
      { after: "id3", upTo: "id7" },
      { after: "id7", upTo: "" },
    ]);
    for (const id of [...ids, "a", "zz"]) {
      assertEquals(pages.filter((p) => inRange(id, p)).length, 1, id);
    }
    assert(pages.every((p) => ids.filter((id) => inRange(id, p)).length <= 4));
  });
});
