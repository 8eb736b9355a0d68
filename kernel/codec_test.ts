import { assertEquals, assertThrows } from "./_assert_test.ts";
import { decodeMessage, encodeMessage, GRID_TAG, type Parms } from "./codec.ts";
import { CodecError } from "./errors.ts";
import { hashText } from "./hash.ts";

const P = hashText("a promise");
const M = hashText("a module");

Deno.test("encodeMessage() round-trips parms through the grid envelope", () => {
  const parms: Parms = [P, M, "text", 42, new Uint8Array([1, 2, 3]), [true, null], { k: P }];
  const bytes = encodeMessage(parms);
  // da 67726964: the 32-bit tag header whose number bytes spell "grid"
  assertEquals([...bytes.subarray(0, 5)], [0xda, 0x67, 0x72, 0x69, 0x64]);
  assertEquals(GRID_TAG, 0x67726964);
  const back = decodeMessage(bytes);
  assertEquals(back.length, parms.length);
  assertEquals(String(back[0]), String(P));
  assertEquals([...(back[4] as Uint8Array)], [1, 2, 3]);
});

Deno.test("decodeMessage() rejects truncated input with a CodecError", () => {
  const bytes = encodeMessage([P, M, "x".repeat(100)]);
  for (let cut = 0; cut < bytes.length; cut++) {
    assertThrows(() => decodeMessage(bytes.subarray(0, cut)), CodecError);
  }
});
