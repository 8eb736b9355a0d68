import { createCipheriv } from "node:crypto";
import { assert, assertEquals, assertThrows } from "../_testing_assert.ts";
import { CodecError } from "../errors.ts";
import type { Parm, Parms } from "../codec.ts";
import { hashText } from "../hash.ts";
import {
  decodeFrame,
  encodeReply,
  encodeRequest,
  type FrameSource,
  PeerError,
  replyFrame,
  requestFrame,
} from "./_protocol.ts";
import {
  frameBounds,
  LENGTH_BYTES,
  openRecord,
  RECORD_OVERHEAD,
  RecordWriter,
  SEQ_BYTES,
  TAG_BYTES,
  TRAILER_BYTES,
} from "./_record.ts";

const P = hashText("some promise");
const key = () => crypto.getRandomValues(new Uint8Array(32));

/** The frames of a record, opened with `k` at sequence `seq`, as bytes. */
function framesOf(k: Uint8Array, seq: number, record: Uint8Array): Uint8Array[] {
  const bounds = frameBounds(record, openRecord(k, seq, record), 16 * 1024 * 1024);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bounds.length; i += 2) out.push(record.subarray(bounds[i], bounds[i + 1]));
  return out;
}

Deno.test("RecordWriter seals the frames of one take into a record that openRecord reads back in order", () => {
  const k = key();
  const writer = new RecordWriter(k);
  assert(writer.empty);
  writer.add(requestFrame(1, 0, [P, "one"]));
  writer.add(replyFrame(7, [P, new Uint8Array(3000)]));
  writer.add(requestFrame(2, 3, [P, 2]));
  assert(!writer.empty);
  const records = writer.take();
  assert(writer.empty);
  assertEquals(records.length, 1);
  const frames = framesOf(k, 0, records[0]);
  assertEquals(frames.map((f) => f.toHex()), [
    encodeRequest(1, 0, [P, "one"]).toHex(),
    encodeReply(7, [P, new Uint8Array(3000)]).toHex(),
    encodeRequest(2, 3, [P, 2]).toHex(),
  ]);
  const first = decodeFrame(frames[0]);
  assert(first.kind === "request" && first.parms[1] === "one");
  // The next take is the next record: sequence 1.
  writer.add(requestFrame(3, 0, [P]));
  const [next] = writer.take();
  assertEquals(framesOf(k, 1, next).length, 1);
  assertEquals(writer.take(), []);
});

Deno.test("frames share a record up to the batch size; a larger frame goes alone; sequence numbers count records", () => {
  const k = key();
  const writer = new RecordWriter(k, 4096);
  for (let i = 0; i < 20; i++) writer.add(requestFrame(i, 0, [P, new Uint8Array(1000)]));
  writer.add(requestFrame(20, 0, [P, new Uint8Array(10_000)]));
  writer.add(requestFrame(21, 0, [P, "after"]));
  const records = writer.take();
  let ids: number[] = [];
  records.forEach((record, seq) => {
    const frames = framesOf(k, seq, record);
    if (frames.length > 1) assert(record.length <= 4096, `record ${seq}: ${record.length} bytes`);
    ids = ids.concat(frames.map((f) => {
      const frame = decodeFrame(f);
      return frame.kind === "request" ? frame.id : -1;
    }));
  });
  assertEquals(ids, Array.from({ length: 22 }, (_, i) => i));
  const big = records.findIndex((r) => r.length > 10_000);
  assertEquals(framesOf(k, big, records[big]).length, 1);
  assertEquals(
    records[big].length,
    encodeRequest(20, 0, [P, new Uint8Array(10_000)]).length + RECORD_OVERHEAD,
  );
  assert(records.length >= 7);
});

Deno.test("openRecord() refuses flipped bytes, replays, skipped records, made-up MACs and the wrong key", async (t) => {
  const k = key();
  const writer = new RecordWriter(k);
  writer.add(requestFrame(1, 0, [P, "payload"]));
  writer.add(requestFrame(2, 0, [P, "more"]));
  const [record] = writer.take();
  writer.add(requestFrame(3, 0, [P]));
  writer.add(requestFrame(4, 0, [P]));
  const [second] = writer.take();
  assertEquals(openRecord(k, 0, record), record.length - TRAILER_BYTES);
  await t.step("every flipped byte, in a frame, a length, the sequence or the MAC", () => {
    for (let i = 0; i < record.length; i++) {
      const bad = new Uint8Array(record);
      bad[i] ^= 0x01;
      assertThrows(() => openRecord(k, 0, bad), PeerError, "MAC");
    }
  });
  await t.step("a replayed record (same sequence number)", () => {
    assertThrows(() => openRecord(k, 1, record), PeerError, "sequence");
  });
  await t.step("a record from the future (a dropped record before it)", () => {
    assertThrows(() => openRecord(k, 0, second), PeerError, "sequence");
  });
  await t.step("a record cut short, or with a frame cut out", () => {
    const cut = record.subarray(LENGTH_BYTES + framesOf(k, 0, record)[0].length);
    assertThrows(() => openRecord(k, 0, cut), PeerError, "MAC");
    const shorter = new Uint8Array(record.length - 1);
    shorter.set(record.subarray(0, record.length - TRAILER_BYTES - 1));
    shorter.set(record.subarray(record.length - TRAILER_BYTES), shorter.length - TRAILER_BYTES);
    assertThrows(() => openRecord(k, 0, shorter), PeerError, "MAC");
  });
  await t.step("a record with a made-up MAC", () => {
    const forged = new Uint8Array(record);
    forged.set(crypto.getRandomValues(new Uint8Array(TAG_BYTES)), forged.length - TAG_BYTES);
    assertThrows(() => openRecord(k, 0, forged), PeerError, "MAC");
  });
  await t.step("a record sealed with another key (the other direction's, say)", () => {
    const other = new RecordWriter(key());
    other.add(requestFrame(1, 0, [P, "payload"]));
    other.add(requestFrame(2, 0, [P, "more"]));
    assertThrows(() => openRecord(k, 0, other.take()[0]), PeerError, "MAC");
  });
  await t.step("a record too short for a trailer", () => {
    assertThrows(() => openRecord(k, 0, new Uint8Array(10)), PeerError, "too short");
  });
});

/** Poly1305 (RFC 8439 section 2.5) in BigInt arithmetic: slow, plain, independent. */
function poly1305(oneTimeKey: Uint8Array, message: Uint8Array): Uint8Array {
  const le = (bytes: Uint8Array) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);
  const r = le(oneTimeKey.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(oneTimeKey.subarray(16, 32));
  const p = (1n << 130n) - 5n;
  let acc = 0n;
  for (let i = 0; i < message.length; i += 16) {
    const block = message.subarray(i, i + 16);
    acc = ((acc + le(block) + (1n << BigInt(8 * block.length))) * r) % p;
  }
  acc = (acc + s) & ((1n << 128n) - 1n);
  return Uint8Array.from({ length: 16 }, (_, i) => Number((acc >> BigInt(8 * i)) & 0xffn));
}

Deno.test("a record's tag is ChaCha20-Poly1305 with an empty plaintext and the record as associated data (RFC 8439)", () => {
  const k = key();
  const writer = new RecordWriter(k);
  for (let i = 0; i < 300; i++) writer.take(); // nothing gathered: no record, no sequence number
  for (let seq = 0; seq < 3; seq++) {
    writer.add(replyFrame(5, [P, "x".repeat(seq * 37)]));
    const [record] = writer.take();
    const aad = record.subarray(0, record.length - TAG_BYTES);
    const seqBytes = record.subarray(record.length - TRAILER_BYTES, record.length - TAG_BYTES);
    assertEquals([...seqBytes], [0, 0, 0, 0, 0, 0, 0, seq]);
    const nonce = new Uint8Array(12);
    nonce.set(seqBytes, 4);
    // RFC 8439 2.6: the one-time key is the first 32 bytes of ChaCha20 block 0 under that nonce.
    const counterAndNonce = new Uint8Array(16);
    counterAndNonce.set(nonce, 4);
    const oneTimeKey = createCipheriv("chacha20", k, counterAndNonce).update(new Uint8Array(32));
    // RFC 8439 2.8: AAD, zero padding to 16, no ciphertext, then both lengths (64-bit little-endian).
    const padded = Math.ceil(aad.length / 16) * 16;
    const macData = new Uint8Array(padded + 16);
    macData.set(aad, 0);
    new DataView(macData.buffer).setBigUint64(padded, BigInt(aad.length), true);
    assertEquals(record.subarray(record.length - TAG_BYTES), poly1305(oneTimeKey, macData));
    assertEquals(SEQ_BYTES + TAG_BYTES, TRAILER_BYTES);
  }
});

Deno.test("frameBounds() refuses a record with no frame, an empty frame, or a length past its end or over the limit", async (t) => {
  const frame = encodeRequest(1, 0, [P]);
  const withLength = (length: number, body: Uint8Array) => {
    const out = new Uint8Array(LENGTH_BYTES + body.length);
    new DataView(out.buffer).setUint32(0, length);
    out.set(body, LENGTH_BYTES);
    return out;
  };
  const rows: [string, Uint8Array, number][] = [
    ["no frame at all", new Uint8Array(0), 1000],
    ["a frame of zero bytes", withLength(0, new Uint8Array(0)), 1000],
    ["a length past the end", withLength(frame.length + 1, frame), 1000],
    ["a length over the frame limit", withLength(frame.length, frame), frame.length - 1],
    ["a record that ends inside a length", new Uint8Array(3), 1000],
  ];
  for (const [name, body, max] of rows) {
    await t.step(name, () => {
      assertThrows(() => frameBounds(body, body.length, max), PeerError);
    });
  }
  assertEquals(frameBounds(withLength(frame.length, frame), frame.length + 4, frame.length), [
    4,
    4 + frame.length,
  ]);
});

Deno.test("RecordWriter.add() refuses what the codec refuses, and adds nothing then", () => {
  const k = key();
  const writer = new RecordWriter(k);
  writer.add(requestFrame(1, 0, [P, "kept"]));
  assertThrows(() => writer.add(requestFrame(2, 0, [P, undefined as unknown as Parm])), CodecError);
  assertThrows(() => writer.add(replyFrame(3, [P, new Set() as unknown as Parm])), CodecError);
  assertThrows(() => writer.add(replyFrame(4, [P, new Uint8Array(17 * 1024 * 1024)])), CodecError);
  const cyclic: Parm[] = [];
  cyclic.push(cyclic, new Uint8Array(300_000));
  assertThrows(() => writer.add(requestFrame(5, 0, [P, cyclic] as Parms)), CodecError);
  const records = writer.take();
  assertEquals(records.length, 1);
  assertEquals(framesOf(k, 0, records[0]).map((f) => f.toHex()), [
    encodeRequest(1, 0, [P, "kept"]).toHex(),
  ]);
});

Deno.test("a frame whose size bound is too small is a bug, reported as one", () => {
  const liar: FrameSource = { write: () => -1, bound: () => 10 };
  assertThrows(() => new RecordWriter(key()).add(liar), Error, "size bound");
});

Deno.test("records handed out are never written again, as later records are gathered", () => {
  const k = key();
  const writer = new RecordWriter(k, 8192);
  const kept: { record: Uint8Array; hex: string; ids: number[] }[] = [];
  let id = 0;
  let seed = 3;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let take = 0; take < 300; take++) {
    const ids: number[] = [];
    for (let f = rand(4); f >= 0; f--) {
      const size = [0, 10, 700, 3000, 20_000, 100_000][rand(6)];
      writer.add(requestFrame(id, 0, [P, new Uint8Array(size).fill(id & 0xff)]));
      ids.push(id++);
    }
    for (const record of writer.take()) kept.push({ record, hex: record.toHex(), ids });
  }
  let seen = 0;
  kept.forEach(({ record, hex }, seq) => {
    assertEquals(record.toHex(), hex, `record ${seq} changed after it was taken`);
    for (const frame of framesOf(k, seq, record)) {
      const decoded = decodeFrame(frame);
      assert(decoded.kind === "request" && decoded.id === seen++);
      assert((decoded.parms[1] as Uint8Array).every((b) => b === (decoded.id & 0xff)));
    }
  });
  assertEquals(seen, id);
  // Small records share buffers: far fewer buffers than records.
  const small: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    writer.add(replyFrame(i, [P, new Uint8Array(700)]));
    small.push(...writer.take());
  }
  const buffers = new Set(small.map((record) => record.buffer));
  assert(buffers.size <= 10, `${buffers.size} buffers for ${small.length} records`);
});
