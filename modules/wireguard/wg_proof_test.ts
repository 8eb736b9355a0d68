import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { newWgPrivateKey, signWithWgKey, verifyWgSignature, wgPublicKeyOf } from "./wg_proof.ts";

const MESSAGE = new TextEncoder().encode("grid/member-request/v2 test body");

Deno.test("an XEdDSA signature by a WireGuard key verifies against its public key only", async () => {
  for (let i = 0; i < 20; i++) {
    const secret = newWgPrivateKey();
    const pub = wgPublicKeyOf(secret);
    const sig = signWithWgKey(secret, MESSAGE);
    assertEquals(sig.length, 64);
    assert(await verifyWgSignature(pub, MESSAGE, sig), `round ${i}`);
    assert(!await verifyWgSignature(wgPublicKeyOf(newWgPrivateKey()), MESSAGE, sig), "another key");
    assert(
      !await verifyWgSignature(pub, new TextEncoder().encode("other"), sig),
      "another message",
    );
    const bent = Uint8Array.from(sig);
    bent[40] ^= 1;
    assert(!await verifyWgSignature(pub, MESSAGE, bent), "a changed signature");
  }
});

Deno.test("wgPublicKeyOf() agrees with `wg pubkey` on a known vector", async () => {
  // RFC 7748 section 6.1: Alice's private and public key.
  const secret = Uint8Array.fromHex(
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  ).toBase64();
  assertEquals(
    Uint8Array.fromBase64(wgPublicKeyOf(secret)).toHex(),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assert(await verifyWgSignature(wgPublicKeyOf(secret), MESSAGE, signWithWgKey(secret, MESSAGE)));
});

Deno.test("verifyWgSignature() refuses malformed keys and signatures without throwing", async () => {
  const secret = newWgPrivateKey();
  const sig = signWithWgKey(secret, MESSAGE);
  assertEquals(await verifyWgSignature("not a key", MESSAGE, sig), false);
  assertEquals(await verifyWgSignature(wgPublicKeyOf(secret), MESSAGE, sig.slice(0, 63)), false);
  const minusOne = new Uint8Array(32).fill(0xff);
  minusOne[0] = 0xec;
  minusOne[31] = 0x7f;
  assertEquals(await verifyWgSignature(minusOne.toBase64(), MESSAGE, sig), false);
});
