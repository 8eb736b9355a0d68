import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import {
  decapsulatePsk,
  encapsulatePsk,
  isEncapsulator,
  kemKeyPair,
  pskPath,
  sameTag,
  writePsk,
} from "./psk.ts";
import { MembershipError } from "./errors.ts";

const A = "bafkaaaaaaaaaaaaa1";
const B = "bafkbbbbbbbbbbbbb2";
const C = "bafkccccccccccccc3";

Deno.test("both ends of a pair derive the same PSK; only the ciphertext travels", async () => {
  const b = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const sent = await encapsulatePsk(b.publicKey, { net: "n1", self: A, peer: B });
  const got = await decapsulatePsk(sent.cipherText, b.secretKey, { net: "n1", self: B, peer: A });
  assertEquals(got.key, sent.key);
  assert(sameTag(got.confirm, sent.confirm));
  assertEquals(Uint8Array.fromBase64(got.key).length, 32);
  // The key is not inside what travels.
  const wire = sent.cipherText.toHex();
  assert(!wire.includes(Uint8Array.fromBase64(sent.key).toHex()));
});

Deno.test("different pairs and different nets get different PSKs", async () => {
  const b = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const c = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const ab = await encapsulatePsk(b.publicKey, { net: "n1", self: A, peer: B });
  const ac = await encapsulatePsk(c.publicKey, { net: "n1", self: A, peer: C });
  assert(ab.key !== ac.key);
  // Same ciphertext under another net id: another key, so a replay across nets is useless.
  const other = await decapsulatePsk(ab.cipherText, b.secretKey, { net: "n2", self: B, peer: A });
  assert(other.key !== ab.key);
});

Deno.test("a wrong secret key derives a different key and the tags disagree", async () => {
  const b = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const mallory = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const sent = await encapsulatePsk(b.publicKey, { net: "n1", self: A, peer: B });
  const got = await decapsulatePsk(sent.cipherText, mallory.secretKey, {
    net: "n1",
    self: B,
    peer: A,
  });
  assert(got.key !== sent.key && !sameTag(got.confirm, sent.confirm));
});

Deno.test("a malformed ciphertext is refused", async () => {
  const b = await kemKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  await assertRejects(
    () => decapsulatePsk(new Uint8Array(10), b.secretKey, { net: "n", self: B, peer: A }),
    MembershipError,
    "1120 bytes",
  );
});

Deno.test("the lower node id encapsulates", () => {
  assert(isEncapsulator(A, B) && !isEncapsulator(B, A));
});

Deno.test("a PSK file is written 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = pskPath(dir, B);
    await writePsk(path, "x".repeat(43) + "=");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
