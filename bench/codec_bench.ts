/**
 * Codec throughput: encode and decode of the messages and records grid
 * sends most (a small request, a member record, a 1 KiB and a 64 KiB
 * payload), each alone so a change shows where it lands.
 *
 * `CODEC_MODULE` (a path or URL to another tree's kernel/codec.ts) measures
 * that codec instead, for before/after in one sitting: extract the older
 * commit's kernel (`git archive REF kernel | tar -x -C DIR`) and run this
 * file with and without it, alternating.
 *
 * Run:
 *   deno bench -A bench/codec_bench.ts
 *   CODEC_MODULE=/tmp/before/kernel/codec.ts deno bench -A bench/codec_bench.ts
 *
 * @module
 */
import type * as Codec from "../kernel/codec.ts";
import { hashText } from "../kernel/hash.ts";

const where = Deno.env.get("CODEC_MODULE");
const codec: typeof Codec = await import(
  where ? new URL(where, `file://${Deno.cwd()}/`).href : "../kernel/codec.ts"
);
const { decodeMessage, decodeValue, encodeMessage, encodeValue } = codec;

const PROMISE = hashText("bench promise");
const MODULE = hashText("bench module");

const REQUEST: Codec.Parms = [PROMISE, MODULE, "join-wireguard-net", "office", {
  endpoint: "10.0.0.1:51820",
}];
/** Shaped like a membership record: a dozen fields, CIDs, bytes, a list. */
const RECORD: Codec.Parm = {
  grid: "member/v1",
  net: "office",
  node: hashText("node"),
  name: "laptop-7",
  address: "10.77.0.12/32",
  endpoint: "192.0.2.10:51820",
  publicKey: new Uint8Array(32).fill(7),
  identity: new Uint8Array(32).fill(9),
  admittedBy: hashText("admin"),
  seq: 42,
  at: 1_767_225_600_000,
  tags: ["laptop", "eu"],
  signature: new Uint8Array(64).fill(1),
};
const PAYLOAD_1K: Codec.Parms = [PROMISE, MODULE, new Uint8Array(1024).map((_, i) => i * 7)];
const PAYLOAD_64K: Codec.Parms = [PROMISE, MODULE, new Uint8Array(65536).map((_, i) => i * 13)];

const messages: [string, Codec.Parms][] = [
  ["small request", REQUEST],
  ["1 KiB payload", PAYLOAD_1K],
  ["64 KiB payload", PAYLOAD_64K],
];
for (const [label, parms] of messages) {
  const bytes = encodeMessage(parms);
  Deno.bench({
    name: `encodeMessage, ${label} (${bytes.length} B)`,
    group: "encode",
    fn() {
      encodeMessage(parms);
    },
  });
  Deno.bench({
    name: `decodeMessage, ${label} (${bytes.length} B)`,
    group: "decode",
    fn() {
      decodeMessage(bytes);
    },
  });
}

const recordBytes = encodeValue(RECORD);
Deno.bench({
  name: `encodeValue, member record (${recordBytes.length} B)`,
  group: "encode",
  fn() {
    encodeValue(RECORD);
  },
});
Deno.bench({
  name: `decodeValue, member record (${recordBytes.length} B)`,
  group: "decode",
  fn() {
    decodeValue(recordBytes);
  },
});
