import { assertEquals } from "../../kernel/_testing_assert.ts";
import { parseLinkState } from "./wg_link.ts";

Deno.test("parseLinkState() reads the UP flag, not the link's mere presence", async (t) => {
  const rows: [string, string, { exists: boolean; up: boolean }][] = [
    ["up", `[{"ifname":"g0","flags":["POINTOPOINT","NOARP","UP","LOWER_UP"]}]`, {
      exists: true,
      up: true,
    }],
    ["down", `[{"ifname":"g0","flags":["POINTOPOINT","NOARP"]}]`, { exists: true, up: false }],
    ["missing", `[]`, { exists: false, up: false }],
  ];
  for (const [what, json, want] of rows) {
    await t.step(what, () => assertEquals(parseLinkState(json), want));
  }
});
