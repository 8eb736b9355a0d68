import { assert, assertEquals } from "../_testing_assert.ts";
import {
  DAG_CBOR as KERNEL_DAG_CBOR,
  hashBytes,
  hashText,
  hashToText,
  RAW as KERNEL_RAW,
} from "../hash.ts";
import { CidBytes, cidText, DAG_CBOR, RAW, sha256Cid, textCid } from "./web_hash.ts";

Deno.test("sha256Cid() gives the kernel's hashBytes(), binary and text, for both codecs", async (t) => {
  assertEquals([RAW, DAG_CBOR], [KERNEL_RAW, KERNEL_DAG_CBOR]);
  for (const length of [0, 1, 2, 3, 4, 5, 31, 32, 33, 64, 1000, 70_000]) {
    const bytes = new Uint8Array(length).map((_, i) => (i * 151 + length) % 256);
    for (const codec of [RAW, DAG_CBOR]) {
      await t.step(`${length} bytes, codec 0x${codec.toString(16)}`, async () => {
        const mine = await sha256Cid(bytes, codec);
        const theirs = hashBytes(bytes, codec);
        assertEquals(mine.bytes.toHex(), theirs.bytes.toHex());
        assertEquals(cidText(mine), hashToText(theirs));
      });
    }
  }
});

Deno.test("textCid() is the kernel's hashText() of the same text", async () => {
  for (const text of ["", "a promise", "ünïcødé ✓ 🧭"]) {
    assertEquals(cidText(await textCid(text)), hashToText(hashText(text)));
  }
});

Deno.test("cidText() spells every byte pattern as base32 does", () => {
  // The multibase base32 of 0x00..0x04 and a few edges, spelled by the kernel's own CID type.
  const cid = hashText("x");
  for (let cut = 1; cut <= cid.bytes.length; cut++) {
    const bytes = cid.bytes.slice(0, cut);
    const expected = "b" + base32Reference(bytes);
    assertEquals(cidText(new CidBytes(bytes)), expected, `first ${cut} bytes`);
  }
});

Deno.test("CidBytes.equals() compares bytes, and only with another CidBytes", () => {
  const a = new CidBytes(new Uint8Array([1, 2, 3]));
  assert(a.equals(new CidBytes(new Uint8Array([1, 2, 3]))));
  assert(!a.equals(new CidBytes(new Uint8Array([1, 2]))));
  assert(!a.equals(new CidBytes(new Uint8Array([1, 2, 4]))));
  assert(!a.equals(new Uint8Array([1, 2, 3])));
});

/** RFC 4648 base32, lowercase, no padding: bit by bit, the slow obvious way. */
function base32Reference(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, "0")).join("");
  let out = "";
  for (let i = 0; i < bits.length; i += 5) {
    out += "abcdefghijklmnopqrstuvwxyz234567"[parseInt(bits.slice(i, i + 5).padEnd(5, "0"), 2)];
  }
  return out;
}
