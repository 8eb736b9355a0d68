import { assertEquals } from "../../kernel/_testing_assert.ts";
import { hashBytes, hashToText, homeAt } from "../../kernel/mod.ts";
import { allowHash, readAllowed } from "./allowed.ts";

Deno.test("allowHash() calls at the same moment all land in the list", async () => {
  const root = await Deno.makeTempDir({ prefix: "grid-allowed-" });
  try {
    const home = homeAt(root);
    const cids = Array.from({ length: 6 }, (_, i) => hashBytes(new Uint8Array([i])));
    const added = await Promise.all(cids.map((cid) => allowHash(home, cid)));
    assertEquals(added, cids.map(() => true));
    assertEquals([...await readAllowed(home)].sort(), cids.map(hashToText).sort());
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
