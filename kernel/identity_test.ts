import { assert, assertEquals, assertRejects } from "./_testing_assert.ts";
import { GridError } from "./errors.ts";
import {
  ED25519_PUB,
  generateIdentity,
  loadIdentity,
  nodeIdOf,
  parseNodeId,
  verifySignature,
} from "./identity.ts";
import { hashText, hashToText } from "./hash.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-identity-" });
  try {
    await fn(`${dir}/state/identity`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const data = new TextEncoder().encode("a membership record");

Deno.test("loadIdentity() generates a key pair, private key 0600, directory 0700", async () => {
  await withDir(async (dir) => {
    const identity = await loadIdentity(dir);
    assertEquals((await Deno.stat(`${dir}/ed25519.key`)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assertEquals(await Deno.readFile(`${dir}/ed25519.pub`), identity.publicKey);
    assertEquals(identity.publicKey.length, 32);
    assertEquals(identity.id, nodeIdOf(identity.publicKey));
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.sort(), ["ed25519.key", "ed25519.pub"]);
  });
});

Deno.test("loadIdentity() reloads the same identity, and its signatures verify", async () => {
  await withDir(async (dir) => {
    const first = await loadIdentity(dir);
    const again = await loadIdentity(dir);
    assertEquals(again.id, first.id);
    assertEquals(again.publicKey, first.publicKey);
    const sig = await again.sign(data);
    assertEquals(sig.length, 64);
    assert(await verifySignature(first.publicKey, sig, data));
  });
});

Deno.test("loadIdentity() called concurrently settles on one identity", async () => {
  await withDir(async (dir) => {
    const all = await Promise.all(Array.from({ length: 6 }, () => loadIdentity(dir)));
    assertEquals(new Set(all.map((i) => i.id)).size, 1);
    for (const identity of all) {
      assert(await verifySignature(identity.publicKey, await identity.sign(data), data));
    }
  });
});

Deno.test("loadIdentity() derives the public key from the private key, not from the .pub file", async () => {
  await withDir(async (dir) => {
    const identity = await loadIdentity(dir);
    const other = await generateIdentity();
    await Deno.writeFile(`${dir}/ed25519.pub`, other.publicKey);
    const reloaded = await loadIdentity(dir);
    assertEquals(reloaded.id, identity.id);
    assertEquals(
      await Deno.readFile(`${dir}/ed25519.pub`),
      identity.publicKey,
      "the .pub file was repaired",
    );
  });
});

Deno.test("loadIdentity() with a corrupt key file fails with a clear config error", async () => {
  await withDir(async (dir) => {
    await loadIdentity(dir);
    await Deno.writeFile(`${dir}/ed25519.key`, new Uint8Array([1, 2, 3]));
    const err = await assertRejects(() => loadIdentity(dir), GridError, "corrupt");
    assertEquals(err.code, "config");
  });
});

Deno.test("verifySignature() rejects bad signatures without throwing", async (t) => {
  const alice = await generateIdentity();
  const mallory = await generateIdentity();
  const sig = await alice.sign(data);
  const flipped = sig.slice();
  flipped[10] ^= 1;
  const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [
    ["tampered data", alice.publicKey, sig, new TextEncoder().encode("a membership recorD")],
    ["tampered signature", alice.publicKey, flipped, data],
    ["someone else's key", mallory.publicKey, sig, data],
    ["signature by someone else", alice.publicKey, await mallory.sign(data), data],
    ["short signature", alice.publicKey, sig.subarray(0, 63), data],
    ["empty signature", alice.publicKey, new Uint8Array(), data],
    ["short key", alice.publicKey.subarray(0, 31), sig, data],
    ["all-zero key", new Uint8Array(32), sig, data],
    ["all-zero signature", alice.publicKey, new Uint8Array(64), data],
  ];
  for (const [name, key, signature, message] of cases) {
    await t.step(name, async () => {
      assertEquals(await verifySignature(key, signature, message), false);
    });
  }
  await t.step("the genuine signature verifies", async () => {
    assertEquals(await verifySignature(alice.publicKey, sig, data), true);
  });
});

Deno.test("parseNodeId() accepts node ids and refuses other text", async () => {
  const identity = await generateIdentity();
  assertEquals(parseNodeId(identity.id)?.code, ED25519_PUB);
  assertEquals(parseNodeId(hashToText(hashText("not a key"))), null);
  assertEquals(parseNodeId("garbage"), null);
  assertEquals(parseNodeId(""), null);
});
