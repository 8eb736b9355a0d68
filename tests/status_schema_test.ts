/**
 * The `grid status --json` example in docs/membership.md has exactly the
 * fields the command prints (every key path, nested lists included), so the
 * documented schema cannot drift from the code.
 */
import { assertEquals } from "../kernel/_testing_assert.ts";
import { Cluster, meshOf, peerCount, waitFor } from "../modules/mesh/_testing_cluster.ts";
import { STATUS_SCHEMA } from "../modules/mesh/mod.ts";

/** Every key path of a JSON value: `nets[].peers[].path`. */
function paths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => paths(v, `${prefix}[]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return [p, ...paths(v, p)];
  });
}

async function documented(): Promise<unknown> {
  const doc = await Deno.readTextFile(new URL("../docs/membership.md", import.meta.url));
  const start = doc.indexOf("### `grid status --json`");
  const block = /```json\n([\s\S]*?)```/.exec(doc.slice(start))![1];
  return JSON.parse(block.replace(/\s\/\/ .*$/gm, ""));
}

Deno.test({
  name: "grid status --json prints exactly the fields docs/membership.md shows",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = new Cluster();
    try {
      const nodes = await meshOf(c, 3);
      await waitFor("full mesh", () => nodes.every((n, i) => peerCount(n, `gt${i}`) === 2));
      await nodes[0].mesh.revoke({ name: "foo", node: nodes[2].mesh.selfId });
      const report = await nodes[0].mesh.status({});
      const doc = await documented() as { schema: number };
      assertEquals(doc.schema, STATUS_SCHEMA);
      assertEquals(report.schema, STATUS_SCHEMA);
      const wanted = [...new Set(paths(doc))].sort();
      const printed = [...new Set(paths(JSON.parse(JSON.stringify(report))))].sort();
      assertEquals(printed, wanted);
    } finally {
      await c.close();
    }
  },
});
