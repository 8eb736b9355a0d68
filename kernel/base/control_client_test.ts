import { assert, assertEquals, assertRejects } from "../_testing_assert.ts";
import { accept, reject } from "../promises.ts";
import { CID, hashText } from "../hash.ts";
import type { Parms } from "../codec.ts";
import { GridError } from "../errors.ts";
import { callAgent, CONTROL_CHUNK_BYTES, ControlServer } from "../control_socket.ts";
import { callAgentPlain, controlSocketPath } from "./control_client.ts";
import { CidBytes } from "./web_hash.ts";

const P = hashText("control test");
const M = hashText("control module");

async function withServer(
  handler: (parms: Parms) => Promise<Parms>,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-control-client-" });
  const path = controlSocketPath(dir);
  const server = await ControlServer.start(path, { handler });
  try {
    await fn(path);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function plain(value: unknown): unknown {
  if (value instanceof CID || value instanceof CidBytes) return { cid: value.bytes.toHex() };
  if (value instanceof Uint8Array) return { hex: value.toHex() };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

Deno.test("callAgentPlain() sends what callAgent() sends and gets the same reply", async (t) => {
  const big = new Uint8Array(CONTROL_CHUNK_BYTES * 2 + 5).map((_, i) => i % 251);
  const replies: [string, Parms][] = [
    ["an accept with output", accept(0, new Uint8Array([104, 105, 10]), "grid: note")],
    ["a reject", reject("usage", "Usage: grid x")],
    ["output longer than one frame, in chunks", accept(1, big, "")],
    ["a reply outside the CBOR subset (read by the codec)", accept(-1, 2.5, { n: [M] })],
  ];
  for (const [name, reply] of replies) {
    await t.step(name, async () => {
      const seen: Parms[] = [];
      await withServer((parms) => {
        seen.push(parms);
        return Promise.resolve(reply);
      }, async (path) => {
        const mine = await callAgentPlain(path, [
          new CidBytes(P.bytes),
          new CidBytes(M.bytes),
          "a",
          "ü",
        ]);
        const theirs = await callAgent(path, [P, M, "a", "ü"]);
        assertEquals(plain(mine), plain(theirs));
        assertEquals(plain(seen[0]), plain(seen[1]));
      });
    });
  }
});

Deno.test("callAgentPlain() finds no agent where none runs, and removes a stale socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-control-client-" });
  try {
    const path = controlSocketPath(dir);
    assertEquals(await callAgentPlain(path, [new CidBytes(P.bytes)]), undefined);
    // A socket nobody listens on: what an agent killed with SIGKILL leaves behind.
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); Deno.exit(0);`,
      ],
    }).output();
    assert(child.success);
    assertEquals(await callAgentPlain(path, [new CidBytes(P.bytes)]), undefined);
    await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("callAgentPlain() talks only to a socket, as callAgent() does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-control-client-" });
  try {
    const path = controlSocketPath(dir);
    await Deno.writeTextFile(path, "not a socket");
    await assertRejects(
      () => callAgentPlain(path, [new CidBytes(P.bytes)]),
      GridError,
      "not a socket of this user's agent",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
