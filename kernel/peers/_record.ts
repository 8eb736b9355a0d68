/**
 * The link's record layer: after its proof, each side sends its frames in
 * sealed records, one record per WebSocket message.
 *
 * ```
 * record = ( length: 4 bytes, big-endian || frame: one grid message )+ || seq: 8 bytes, big-endian || tag: 16 bytes
 * tag    = ChaCha20-Poly1305(key, nonce = 4 zero bytes || seq, plaintext = empty,
 *                            associated data = everything in the record before the tag)
 * ```
 *
 * `seq` counts the records of one direction, 0, 1, 2, ...; each direction
 * has its own key (deriveLinkKeys in _protocol.ts), so no key ever sees a
 * nonce twice. The frames that one turn of the event loop sends (64
 * replies computed together, a burst of relayed datagrams) share a record,
 * so they share one MAC and one WebSocket message; a lone request is a
 * record of one frame. The receiver checks the tag, then that `seq` is the
 * next one expected (frames arrive in order over one TCP stream, so anything
 * else is a replay, a drop or a reorder), and only then reads the frames.
 *
 * Pure byte work: the socket work lives in _ws_link.ts.
 *
 * @module
 */
import { createCipheriv, timingSafeEqual } from "node:crypto";
import { MAX_MESSAGE_BYTES } from "../codec.ts";
import { CodecError } from "../errors.ts";
import { type FrameSource, PeerError } from "./_protocol.ts";

/** Bytes of the length in front of every frame of a record. */
export const LENGTH_BYTES = 4;
/** Bytes of the record sequence number in the trailer. */
export const SEQ_BYTES = 8;
/** Bytes of the Poly1305 tag that ends every record. */
export const TAG_BYTES = 16;
/** Bytes a record carries after its frames. */
export const TRAILER_BYTES = SEQ_BYTES + TAG_BYTES;
/** Bytes a record adds to a lone frame: its length and the trailer. */
export const RECORD_OVERHEAD = LENGTH_BYTES + TRAILER_BYTES;
/** Frames are gathered into one record up to about this many bytes; a larger frame goes alone. */
export const RECORD_BATCH_BYTES = 256 * 1024;
/** The smallest buffer records are written into (small records share one, one after another). */
const FIRST_BUFFER_BYTES = 16 * 1024;
/** Buffers larger than this are not kept once their record is sealed. */
const KEEP_BUFFER_BYTES = 64 * 1024;
/** A buffer with less room than this left is not kept once its record is sealed. */
const MIN_ROOM_BYTES = 2 * 1024;

/** The nonce for `seq`: 4 zero bytes, then the trailer's 8 sequence bytes (built in place). */
const nonce = new Uint8Array(12);

/** The tag over `aad` (the record up to its tag) for the sequence bytes `seq`. */
function recordTag(key: Uint8Array, seq: Uint8Array, aad: Uint8Array): Uint8Array {
  nonce.set(seq, 4);
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: 0 });
  cipher.final();
  return cipher.getAuthTag();
}

function writeSeq(dest: Uint8Array, at: number, seq: number): void {
  const high = Math.floor(seq / 0x1_0000_0000);
  const low = seq >>> 0;
  dest[at] = high >>> 24;
  dest[at + 1] = (high >> 16) & 0xff;
  dest[at + 2] = (high >> 8) & 0xff;
  dest[at + 3] = high & 0xff;
  dest[at + 4] = low >>> 24;
  dest[at + 5] = (low >> 16) & 0xff;
  dest[at + 6] = (low >> 8) & 0xff;
  dest[at + 7] = low & 0xff;
}

function readSeq(bytes: Uint8Array, at: number): number {
  const high =
    ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>>
    0;
  const low =
    ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) | bytes[at + 7]) >>> 0;
  return high * 0x1_0000_0000 + low;
}

/**
 * Gathers the frames one side sends into sealed records. Frames are written
 * straight into the record's buffer; {@link RecordWriter.take} seals what is
 * gathered (MAC and sequence number written in place) and hands back the
 * records to send, in order.
 */
export class RecordWriter {
  #key: Uint8Array;
  #seq = 0;
  #batchBytes: number;
  /**
   * The buffer records are written into, one after another: a record handed
   * to the socket is never written again, the next one starts after it.
   */
  #buf: Uint8Array | undefined;
  /** #buf short of the trailer's room: how far a record's first frame may go. */
  #room: Uint8Array | undefined;
  /** #room cut to one batch from #base: how far the record's later frames may go. */
  #batchRoom: Uint8Array | undefined;
  /** Where the record being gathered starts in #buf. */
  #base = 0;
  /** End of its last frame. */
  #at = 0;
  #frames = 0;
  /** Bytes of the last record sealed: the size of the next buffer, when one is needed. */
  #lastRecord = 0;
  #sealed: Uint8Array[] = [];
  #sealedBytes = 0;

  /** A writer sealing with `key`; frames share a record up to `batchBytes`. */
  constructor(key: Uint8Array, batchBytes: number = RECORD_BATCH_BYTES) {
    this.#key = key;
    this.#batchBytes = batchBytes;
  }

  /** Bytes gathered and not yet taken (frames and sealed records). */
  get pendingBytes(): number {
    return this.#sealedBytes + this.#at - this.#base;
  }

  /** True when nothing waits to be taken. */
  get empty(): boolean {
    return this.#frames === 0 && this.#sealed.length === 0;
  }

  /**
   * Adds one frame. Throws {@link CodecError} for a frame the codec
   * refuses or one over the message size limit (nothing is added then).
   */
  add(frame: FrameSource): void {
    if (this.#buf && this.#tryAppend(frame)) return;
    const bound = frame.bound();
    if (!Number.isFinite(bound)) {
      throw new CodecError("Cannot encode a value nested this deep (or holding itself)");
    }
    const need = LENGTH_BYTES + bound + TRAILER_BYTES;
    if (this.#frames > 0 && this.#at - this.#base + need > this.#batchBytes) this.#seal();
    this.#grow(need);
    if (!this.#tryAppend(frame)) throw new Error("A frame is larger than its size bound"); // a bug
  }

  /** Seals what was gathered and returns every record to send, in order. */
  take(): Uint8Array[] {
    if (this.#frames > 0) this.#seal();
    const out = this.#sealed;
    this.#sealed = [];
    this.#sealedBytes = 0;
    return out;
  }

  /** Writes `frame` after the frames already gathered; false when it does not fit. */
  #tryAppend(frame: FrameSource): boolean {
    const buf = this.#buf!;
    const start = this.#at + LENGTH_BYTES;
    // Later frames stay within the batch; the trailer's room is never written, so
    // sealing never moves the record.
    const end = frame.write(this.#frames === 0 ? this.#room! : this.#batchRoom!, start);
    if (end < 0) return false;
    const length = end - start;
    if (length > MAX_MESSAGE_BYTES) {
      throw new CodecError(
        `Message of ${length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`,
      );
    }
    buf[this.#at] = length >>> 24;
    buf[this.#at + 1] = (length >> 16) & 0xff;
    buf[this.#at + 2] = (length >> 8) & 0xff;
    buf[this.#at + 3] = length & 0xff;
    this.#at = end;
    this.#frames++;
    return true;
  }

  /**
   * A new buffer with room for `need` more bytes after the record gathered
   * so far (copied to its start); at least doubled while a batch grows, and
   * sized like the last record when a new one starts.
   */
  #grow(need: number): void {
    const old = this.#buf;
    const used = this.#at - this.#base;
    const hint = this.#frames > 0 && old
      ? 2 * (old.length - this.#base)
      : this.#lastRecord + (this.#lastRecord >> 2);
    const size = Math.max(used + need, FIRST_BUFFER_BYTES, Math.min(hint, this.#batchBytes));
    const buf = new Uint8Array(size);
    if (old && used > 0) buf.set(old.subarray(this.#base, this.#at), 0);
    this.#buf = buf;
    this.#base = 0;
    this.#at = used;
    this.#room = buf.subarray(0, size - TRAILER_BYTES);
    this.#batchRoom = buf.subarray(0, Math.min(size, this.#batchBytes) - TRAILER_BYTES);
  }

  /** Seals the frames gathered into one record (trailer written in place). */
  #seal(): void {
    const buf = this.#buf!;
    const end = this.#at + TRAILER_BYTES;
    const seq = buf.subarray(this.#at, this.#at + SEQ_BYTES);
    writeSeq(buf, this.#at, this.#seq++);
    const tag = recordTag(this.#key, seq, buf.subarray(this.#base, this.#at + SEQ_BYTES));
    buf.set(tag, this.#at + SEQ_BYTES);
    this.#sealed.push(buf.subarray(this.#base, end));
    this.#lastRecord = end - this.#base;
    this.#sealedBytes += this.#lastRecord;
    this.#frames = 0;
    // The next record follows in the same buffer while a small one has room
    // there; a large buffer (a batch, a big frame) is not kept.
    if (buf.length > KEEP_BUFFER_BYTES || buf.length - end < MIN_ROOM_BYTES) {
      this.#buf = this.#room = this.#batchRoom = undefined;
      this.#base = this.#at = 0;
      return;
    }
    this.#base = this.#at = end;
    this.#batchRoom = buf.subarray(0, Math.min(buf.length, end + this.#batchBytes) - TRAILER_BYTES);
  }
}

/**
 * Checks a record's tag and that its sequence number is `expected`; returns
 * the length of its frames (everything before the trailer). Throws
 * {@link PeerError} otherwise.
 */
export function openRecord(key: Uint8Array, expected: number, record: Uint8Array): number {
  const length = record.length - TRAILER_BYTES;
  if (length < 0) throw new PeerError("Record too short to carry a sequence number and MAC");
  const seq = record.subarray(length, length + SEQ_BYTES);
  const tag = recordTag(key, seq, record.subarray(0, length + SEQ_BYTES));
  if (!timingSafeEqual(tag, record.subarray(length + SEQ_BYTES))) {
    throw new PeerError("Record MAC does not verify (altered or injected record)");
  }
  const got = readSeq(record, length);
  if (got !== expected) {
    throw new PeerError(
      `Record sequence ${got} is not the expected ${expected} (replayed, dropped or reordered)`,
    );
  }
  return length;
}

/**
 * The frames of an opened record, as [start, end) offsets into it. Throws
 * {@link PeerError} for a record with no frame, or a length that runs past
 * its end or over `maxFrameBytes`.
 */
export function frameBounds(record: Uint8Array, length: number, maxFrameBytes: number): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < length) {
    if (at + LENGTH_BYTES > length) throw new PeerError("A record ends inside a frame length");
    const size = ((record[at] << 24) | (record[at + 1] << 16) | (record[at + 2] << 8) |
      record[at + 3]) >>> 0;
    const start = at + LENGTH_BYTES;
    if (size === 0 || size > maxFrameBytes || start + size > length) {
      throw new PeerError(`A record holds a frame of ${size} bytes that does not fit`);
    }
    out.push(start, start + size);
    at = start + size;
  }
  if (out.length === 0) throw new PeerError("A record carries no frame");
  return out;
}
