/**
 * One authenticated WebSocket link to one peer (npm:ws): the mutual
 * challenge-response handshake, then requests and replies in both
 * directions, many in flight at once, each frame one binary grid message;
 * after the handshake the frames travel in sealed records, a sequence number
 * and a MAC per record (_record.ts), the frames of one turn of the event loop
 * sharing one record. Bad frames, bad MACs and out-of-order sequence numbers
 * close the link, never the process.
 *
 * Liveness: once up, the dialer pings the peer (a WebSocket ping) every
 * {@link LINK_DEFAULTS}.pingIntervalMs unless records just went both ways,
 * and the listener answers (_liveness.ts says when each end pings); anything
 * from the peer (a record, a ping or a pong) counts as a sign of life, and a
 * link that has heard nothing for `deadAfterMs` is cut, so a peer that
 * vanished (its address changed, its machine froze, the path dropped) is
 * noticed in seconds, not at TCP's retransmission limit.
 *
 * @module
 */
import { type Identity, verifySignature } from "../identity.ts";
import type { Logger } from "../service.ts";
import { MAX_MESSAGE_BYTES, type Parms } from "../codec.ts";
import { oneLine, rejectCodeOf } from "../errors.ts";
import type { PeerInfo, RequestOptions } from "../peer_network.ts";
import { reject } from "../promises.ts";
import type { RawData, WebSocket } from "ws";
import {
  checkHello,
  datagramFrame,
  decodeFrame,
  deriveLinkKeys,
  encodeHello,
  encodeProof,
  type Ephemeral,
  type FrameSource,
  generateEphemeral,
  handshakeTranscript,
  type Hello,
  LINK_VERSION,
  type LinkFrame,
  type LinkKeys,
  type LinkRole,
  LinkVersionError,
  NONCE_BYTES,
  PeerError,
  replyFrame,
  requestFrame,
} from "./_protocol.ts";
import { livenessStep } from "./_liveness.ts";
import {
  frameBounds,
  openRecord,
  RECORD_BATCH_BYTES,
  RECORD_OVERHEAD,
  RecordWriter,
} from "./_record.ts";

/** Close codes a link uses (4000-4999 is the application range). */
export const CLOSE_CODES = {
  normal: 1000,
  unsupported: 1003,
  tooBig: 1009,
  tryAgain: 1013,
  duplicate: 4000,
  handshake: 4001,
  protocol: 4002,
  self: 4003,
} as const;

/**
 * The largest WebSocket message a link reads when its frames may be
 * `maxFrameBytes` long: a record of one such frame, or a batch of smaller ones.
 */
export function maxRecordBytes(maxFrameBytes: number): number {
  return Math.max(maxFrameBytes + RECORD_OVERHEAD, RECORD_BATCH_BYTES);
}

/** Frames held while waiting for the peer's hello. */
const MAX_EARLY_FRAMES = 8;

/** Defaults for {@link WsLinkOptions}. */
export const LINK_DEFAULTS = {
  maxFrameBytes: MAX_MESSAGE_BYTES,
  maxInFlight: 256,
  handshakeTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  pingIntervalMs: 2_000,
  deadAfterMs: 6_000,
  maxDatagramQueueBytes: 1024 * 1024,
} as const;

/** Handles a request that arrived on a link; resolves with the reply. */
export type LinkHandler = (parms: Parms, ctx: { peer: PeerInfo; hops: number }) => Promise<Parms>;

/** Options for {@link WsLink}. */
export interface WsLinkOptions {
  /** "dialer" when we opened the socket. */
  role: LinkRole;
  /** This node's identity (signs the handshake). */
  identity: Identity;
  /** Handles the peer's requests. */
  handler: LinkHandler;
  /** The URL we dialled (dialer only). */
  url?: string;
  /** The URL we tell the peer it can dial us at. */
  advertise?: string;
  /** Largest frame decoded (the socket's maxPayload should match). */
  maxFrameBytes?: number;
  /** Most of the peer's requests handled at once; more get a reject reply. */
  maxInFlight?: number;
  /** A peer that has not proven its key by then is dropped. */
  handshakeTimeoutMs?: number;
  /** Default timeout for our requests. */
  requestTimeoutMs?: number;
  /** Bytes we may have queued for a peer that does not read; more closes the link. */
  maxQueuedBytes?: number;
  /** Time between liveness ticks (and the dialer's pings on a quiet link) once the link is up. */
  pingIntervalMs?: number;
  /** A link that heard nothing from the peer for this long is cut. */
  deadAfterMs?: number;
  /** Receives the peer's datagrams (none: they are dropped). */
  onDatagram?: (peer: PeerInfo, channel: number, bytes: Uint8Array) => void;
  /** Datagrams are dropped, not queued, while more than this many bytes wait to be sent. */
  maxDatagramQueueBytes?: number;
  /** Event log. */
  log?: Logger;
}

/** The part of ws's underlying net.Socket used to batch writes. */
interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

interface Pending {
  resolve: (reply: Parms) => void;
  /** performance.now() after which the request times out. */
  deadline: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Byte strings at least this long may be decoded as views of the frame (see {@link FrameBytes}). */
export const VIEW_MIN_BYTES = 1024;
/** Byte strings from this long up to {@link POOLED_MAX_BYTES} are copied into a shared pool. */
export const POOLED_MIN_BYTES = 512;
/** See {@link POOLED_MIN_BYTES}. */
export const POOLED_MAX_BYTES = 4 * 1024;
/** Bytes of one pool: a kept pooled string holds at most this much memory (node:buffer's pool size). */
export const POOL_BYTES = 8 * 1024;

let pool = new ArrayBuffer(0);
let poolAt = 0;

/**
 * A copy of `length` bytes of `source` from `start`, cut from a shared pool
 * instead of an allocation of its own, as node:buffer's allocUnsafe does for
 * small buffers: one allocation serves several strings (64 replies in one
 * record carry 64 payloads). Each piece is handed out once and never
 * written again; a piece that is kept holds its pool, at most
 * {@link POOL_BYTES}, so only strings of at least {@link POOLED_MIN_BYTES}
 * are pooled (a kept string then holds at most 16 times its length).
 */
function pooledCopy(source: Uint8Array, start: number, length: number): Uint8Array<ArrayBuffer> {
  if (poolAt + length > pool.byteLength) {
    pool = new ArrayBuffer(POOL_BYTES);
    poolAt = 0;
  }
  const out = new Uint8Array(pool, poolAt, length);
  out.set(source.subarray(start, start + length));
  poolAt += (length + 7) & ~7;
  return out;
}

/**
 * A received frame whose byte strings decode without an allocation each.
 * The codec cuts each byte string out of its input with `slice`; for a long
 * string that fills at least half of the buffer under the frame, this class
 * hands back a plain Uint8Array view of those bytes, saving an allocation
 * and a copy per payload. Strings that would pin a much larger buffer are
 * copied: from {@link POOLED_MIN_BYTES} to {@link POOLED_MAX_BYTES} into a
 * shared pool ({@link pooledCopy}), others (hashes, ids, keys, and large
 * strings) into arrays of their own. So a kept string never holds more than
 * twice its own length in memory, or one pool. Safe because the buffer is
 * this link's alone: npm:ws hands each message over once, in a buffer the
 * socket read or the fragment join allocated for it, and nothing writes to
 * it afterwards. Should the codec stop calling `slice`, it only copies again.
 */
class FrameBytes extends Uint8Array {
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }
  override slice(start = 0, end = this.length): Uint8Array<ArrayBuffer> {
    const length = end - start;
    if (!(start >= 0 && length >= 0 && end <= this.length)) {
      return super.slice(start, end) as Uint8Array<ArrayBuffer>; // not how the codec calls it
    }
    if (length >= VIEW_MIN_BYTES && 2 * length >= this.buffer.byteLength) {
      // A plain view: plain Uint8Array methods stay on V8's fast paths.
      return new Uint8Array(this.buffer as ArrayBuffer, this.byteOffset + start, length);
    }
    if (length >= POOLED_MIN_BYTES && length <= POOLED_MAX_BYTES) {
      return pooledCopy(this, start, length);
    }
    return new Uint8Array(this.buffer as ArrayBuffer, this.byteOffset + start, length).slice();
  }
}

/** Converts what npm:ws delivers into one frame to decode. */
function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) {
    const total = data.reduce((n, b) => n + b.length, 0);
    const out = new FrameBytes(total);
    let at = 0;
    for (const b of data) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  }
  if (data instanceof ArrayBuffer) return new FrameBytes(data);
  return new FrameBytes(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/** A link over one open (or opening) npm:ws socket. */
export class WsLink {
  /** Resolves with the peer once both sides proved their keys; rejects if the handshake fails. */
  readonly ready: Promise<PeerInfo>;
  /** Resolves when the socket has closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #ws: WebSocket;
  #opts: WsLinkOptions;
  #log: Logger;
  #myHello: Hello;
  #ephemeral: Ephemeral;
  #peerHello?: Hello;
  /** Per-direction frame keys, set once the peer's hello is in. */
  #keys?: LinkKeys;
  /** Gathers the frames we send into sealed records (set with the keys). */
  #writer?: RecordWriter;
  /** Set while a flush of #writer is scheduled. */
  #flushing = false;
  /** Sequence number of the next record we expect. */
  #receiveSeq = 0;
  /** Set when the peer's proof has been read: every frame after it is sealed. */
  #peerSealed = false;
  /** Frames waiting in #queue; sealed frames take the direct path only when none are. */
  #queued = 0;
  #peer?: PeerInfo;
  #sentProof = false;
  #verified = false;
  #queue: Promise<void> = Promise.resolve();
  #early: LinkFrame[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #inFlight = 0;
  #refused = 0;
  #refusedLoggedAt = 0;
  #isClosed = false;
  #sweepTimer?: ReturnType<typeof setTimeout>;
  #sweepAt = Infinity;
  #resolveReady!: (peer: PeerInfo) => void;
  #rejectReady!: (err: Error) => void;
  #handshakeTimer?: ReturnType<typeof setTimeout>;
  #terminateTimer?: ReturnType<typeof setTimeout>;
  #pingTimer?: ReturnType<typeof setInterval>;
  #lastActive = performance.now();
  #lastHeard = performance.now();
  /** performance.now() of the last record read from the peer. */
  #lastRecordIn = -Infinity;
  /** performance.now() of the last record we sent. */
  #lastRecordOut = -Infinity;

  /** Wraps `ws` and starts the handshake as soon as it is open. */
  constructor(ws: WebSocket, options: WsLinkOptions) {
    this.#ws = ws;
    this.#opts = options;
    this.#log = options.log ?? (() => {});
    this.#ephemeral = generateEphemeral();
    this.#myHello = {
      id: options.identity.id,
      publicKey: options.identity.publicKey,
      nonce: crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
      ephemeral: this.#ephemeral.publicKey,
      advertise: options.advertise,
    };
    this.ready = new Promise((resolve, rejectReady) => {
      this.#resolveReady = resolve;
      this.#rejectReady = rejectReady;
    });
    this.ready.catch(() => {}); // observed through `closed` by callers that do not await it
    this.closed = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        this.#onClose(code, reason.toString());
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on("error", (err: Error) => {
      this.#log("debug", "peer-socket-error", { url: options.url, why: oneLine(err) });
    });
    ws.on("message", (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on("pong", () => (this.#lastHeard = performance.now()));
    // npm:ws answers a ping with a pong by itself; the ping is a sign of life too.
    ws.on("ping", () => (this.#lastHeard = performance.now()));
    this.#handshakeTimer = setTimeout(() => {
      this.#fail(CLOSE_CODES.handshake, "Peer did not prove its key in time");
    }, options.handshakeTimeoutMs ?? LINK_DEFAULTS.handshakeTimeoutMs);
    // The dialer speaks first; the listener answers its hello. Were the listener
    // to send at once, its hello would ride in with the HTTP upgrade response,
    // and Deno's node:http client sometimes drops bytes that arrive there.
    if (options.role === "dialer") {
      if (ws.readyState === ws.OPEN) this.#sendHello();
      else ws.once("open", () => this.#sendHello());
    }
  }

  /** The authenticated peer, once the handshake is done. */
  get peer(): PeerInfo | undefined {
    return this.#peer;
  }

  /** Which end of the link we are. */
  get role(): LinkRole {
    return this.#opts.role;
  }

  /** True until the socket closes. */
  get open(): boolean {
    return !this.#isClosed;
  }

  /**
   * performance.now() of the last request or reply this link carried (either
   * way), or of the handshake: how the hub tells a useful link from an idle one.
   */
  get lastActive(): number {
    return this.#lastActive;
  }

  /** The socket's local and remote IP addresses (IPv4-mapped ones as IPv4), if known. */
  get addresses(): { local?: string; remote?: string } {
    const socket = (this.#ws as unknown as {
      _socket?: { localAddress?: string; remoteAddress?: string };
    })._socket;
    const plain = (a?: string) => a?.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
    return { local: plain(socket?.localAddress), remote: plain(socket?.remoteAddress) };
  }

  /** performance.now() of the last sign of life from the peer (a frame or a pong). */
  get lastHeard(): number {
    return this.#lastHeard;
  }

  /** True once both sides proved their keys. */
  get verified(): boolean {
    return this.#verified;
  }

  /** Requests we sent that await a reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends `parms` to the peer's kernel and resolves with its reply. Never
   * throws: a timeout, abort, oversize message or closed link resolves with
   * a reject reply (code "peer" or "codec").
   */
  request(parms: Parms, options: RequestOptions = {}): Promise<Parms> {
    if (this.#isClosed || !this.#peer) {
      return Promise.resolve(reject("peer", "Link is not up"));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.resolve(reject("peer", "Request aborted"));
    const id = this.#nextId++;
    const frame = requestFrame(id, options.hops ?? 0, parms);
    const timeoutMs = options.timeoutMs ?? this.#opts.requestTimeoutMs ??
      LINK_DEFAULTS.requestTimeoutMs;
    return new Promise((resolve) => {
      const deadline = performance.now() + timeoutMs;
      const entry: Pending = { resolve, deadline, timeoutMs, signal, onAbort: undefined };
      this.#pending.set(id, entry);
      try {
        this.#send(frame);
      } catch (err) {
        this.#pending.delete(id);
        return resolve(reject(rejectCodeOf(err), oneLine(err)));
      }
      this.#armSweep(deadline);
      if (signal) {
        entry.onAbort = () => this.#settle(id, reject("peer", "Request aborted"));
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.#lastActive = performance.now();
    });
  }

  /**
   * Sends one datagram on `channel`, best effort: false (dropped) when the
   * link is not up or the socket already holds more than
   * `maxDatagramQueueBytes` unsent, as a congested UDP path would drop it.
   */
  sendDatagram(channel: number, bytes: Uint8Array): boolean {
    if (this.#isClosed || !this.#verified || this.#ws.readyState !== this.#ws.OPEN) return false;
    const limit = this.#opts.maxDatagramQueueBytes ?? LINK_DEFAULTS.maxDatagramQueueBytes;
    if (this.#ws.bufferedAmount + (this.#writer?.pendingBytes ?? 0) > limit) return false;
    this.#send(datagramFrame(channel, bytes));
    return true;
  }

  /**
   * Makes sure the sweep runs by `deadline`. One timer per link serves every
   * request: it is moved only when a request is due sooner than any before
   * it, so a request costs no timer of its own.
   */
  #armSweep(deadline: number): void {
    if (deadline >= this.#sweepAt || this.#isClosed) return;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = deadline;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, deadline - performance.now()));
    // The open socket keeps the process alive; this timer alone should not.
    Deno.unrefTimer(this.#sweepTimer);
  }

  /** Times out every request past its deadline, then waits for the next deadline. */
  #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [id, entry] of this.#pending) {
      if (entry.deadline <= now) {
        const why = `Peer "${this.#peer?.id}" did not reply within ${entry.timeoutMs} ms`;
        this.#settle(id, reject("peer", why));
      } else if (entry.deadline < next) next = entry.deadline;
    }
    if (next !== Infinity) this.#armSweep(next);
  };

  /** Resolves request `id` with `reply` (once: later replies, timeouts and aborts find nothing). */
  #settle(id: number, reply: Parms): boolean {
    const entry = this.#pending.get(id);
    if (!entry) return false;
    this.#pending.delete(id);
    if (entry.onAbort) entry.signal!.removeEventListener("abort", entry.onAbort);
    entry.resolve(reply);
    return true;
  }

  /** Closes the link with a code and a short reason. */
  close(code: number = CLOSE_CODES.normal, reason = ""): void {
    if (this.#isClosed) return;
    this.#flush(); // what was sent before the close goes out before it
    try {
      this.#ws.close(code, reason.slice(0, 120));
    } catch {
      this.#ws.terminate(); // close() throws for invalid states: drop the socket instead
    }
    // A peer that ignores the close handshake is cut off (cleared when the socket closes).
    if (this.#terminateTimer === undefined) {
      this.#terminateTimer = setTimeout(() => this.#ws.terminate(), 2_000);
    }
  }

  /**
   * Adds `frame` to the record being gathered and makes sure it is flushed.
   * Throws CodecError for a frame the codec refuses (nothing is sent then).
   *
   * The frames sent in one turn share a record, so they share one MAC and
   * one socket write. A lone request or reply (nothing else outstanding)
   * flushes at the end of the microtask queue, so a single round trip pays no
   * extra latency; while other replies are still being computed, it flushes
   * after this turn of the event loop, so a burst goes out as one record.
   */
  #send(frame: FrameSource): void {
    if (this.#ws.readyState !== this.#ws.OPEN || !this.#writer) return;
    this.#writer.add(frame);
    if (this.#flushing) return;
    this.#flushing = true;
    if (this.#inFlight > 0 || this.#pending.size > 1) setImmediate(this.#flush);
    else queueMicrotask(this.#flush);
  }

  /** Seals what was gathered and sends it, one WebSocket message per record. */
  #flush = (): void => {
    this.#flushing = false;
    const records = this.#writer?.take();
    if (!records || records.length === 0) return;
    this.#lastRecordOut = performance.now();
    if (records.length === 1) return this.#sendRaw(records[0]);
    const socket = (this.#ws as unknown as { _socket?: CorkableSocket })._socket;
    const corked = typeof socket?.cork === "function";
    if (corked) socket!.cork(); // many records: one socket write
    for (const record of records) this.#sendRaw(record);
    if (corked) socket!.uncork();
  };

  /** Sends one WebSocket message as it is (a record, or the handshake's hello and proof). */
  #sendRaw(bytes: Uint8Array): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    // No per-send callback: a failed write surfaces as the socket's error and close events.
    this.#ws.send(bytes, { binary: true });
    const queued = this.#ws.bufferedAmount;
    const limit = this.#opts.maxQueuedBytes ?? LINK_DEFAULTS.maxQueuedBytes;
    if (queued > limit) {
      // A peer that asks and never reads would otherwise grow our memory without bound.
      this.#fail(CLOSE_CODES.tryAgain, `Peer is not reading (${queued} bytes queued)`);
      this.#ws.terminate();
    }
  }

  #sendHello(): void {
    try {
      this.#sendRaw(encodeHello(this.#myHello));
    } catch (err) {
      this.#fail(CLOSE_CODES.handshake, `Cannot send hello: ${oneLine(err)}`);
    }
  }

  #fail(code: number, why: string): void {
    if (!this.#peer || !this.#verified) {
      this.#log("warn", "peer-handshake-failed", {
        url: this.#opts.url,
        role: this.#opts.role,
        why,
      });
      this.#rejectReady(new PeerError(why));
    } else {
      this.#log("warn", "peer-protocol-error", { peer: this.#peer.id, why });
    }
    this.close(code, why);
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#isClosed) return;
    this.#lastHeard = performance.now();
    if (!isBinary) return this.#fail(CLOSE_CODES.unsupported, "Binary frames only");
    const bytes = toBytes(data);
    if (this.#peerSealed) {
      if (this.#verified && this.#queued === 0) return this.#onRecord(bytes);
      // Records that arrive while the peer's proof is still being checked wait their turn.
      this.#enqueue(() => this.#onRecord(bytes));
      return;
    }
    let frame: LinkFrame;
    try {
      frame = decodeFrame(bytes, {
        maxBytes: this.#opts.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes,
      });
    } catch (err) {
      // A node of another link version is told so in one line naming both versions.
      const why = err instanceof LinkVersionError ? err.message : `Bad frame: ${oneLine(err)}`;
      return this.#fail(CLOSE_CODES.protocol, why);
    }
    // Everything the peer sends after its proof is sealed.
    if (frame.kind === "proof") this.#peerSealed = true;
    // Handshake frames are handled strictly in order (signing is async).
    this.#enqueue(() => this.#onHandshakeFrame(frame));
  }

  #enqueue(work: () => Promise<void> | void): void {
    this.#queued++;
    this.#queue = this.#queue.then(work).catch((err) => {
      this.#fail(CLOSE_CODES.handshake, oneLine(err));
    }).finally(() => {
      this.#queued--;
    });
  }

  /** Checks a record's MAC and sequence number, then handles the frames in it, in order. */
  #onRecord(bytes: Uint8Array): void {
    if (this.#isClosed) return;
    if (!this.#verified || !this.#keys) {
      return this.#fail(CLOSE_CODES.handshake, "Frame before the handshake finished");
    }
    const maxBytes = this.#opts.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes;
    let bounds: number[];
    try {
      const length = openRecord(this.#keys.receive, this.#receiveSeq, bytes);
      this.#receiveSeq++;
      this.#lastRecordIn = this.#lastHeard;
      bounds = frameBounds(bytes, length, maxBytes);
    } catch (err) {
      return this.#fail(CLOSE_CODES.protocol, `Bad record: ${oneLine(err)}`);
    }
    const buffer = bytes.buffer as ArrayBuffer;
    for (let i = 0; i < bounds.length && !this.#isClosed; i += 2) {
      let frame: LinkFrame;
      try {
        const at = bytes.byteOffset + bounds[i];
        frame = decodeFrame(new FrameBytes(buffer, at, bounds[i + 1] - bounds[i]), { maxBytes });
      } catch (err) {
        return this.#fail(CLOSE_CODES.protocol, `Bad frame: ${oneLine(err)}`);
      }
      this.#onFrame(frame);
    }
  }

  async #onHandshakeFrame(frame: LinkFrame): Promise<void> {
    if (this.#isClosed) return;
    if (this.#verified) throw new PeerError(`Unsealed ${frame.kind} frame after the handshake`);
    if (frame.kind !== "hello" && !this.#peerHello) {
      // Only a misbehaving peer sends anything before its hello; hold a few frames
      // rather than guess, in case a transport reorders the first bytes.
      if (this.#early.length >= MAX_EARLY_FRAMES) {
        throw new PeerError("Too many frames before hello");
      }
      this.#early.push(frame);
      return;
    }
    if (frame.kind === "hello") {
      if (this.#peerHello) throw new PeerError("Second hello during the handshake");
      checkHello(frame.hello, this.#opts.identity.id);
      this.#peerHello = frame.hello;
      const dialer = this.#opts.role === "dialer" ? this.#myHello : frame.hello;
      const listener = this.#opts.role === "dialer" ? frame.hello : this.#myHello;
      this.#keys = deriveLinkKeys(this.#opts.role, this.#ephemeral, dialer, listener);
      this.#writer = new RecordWriter(this.#keys.send);
      if (this.#opts.role === "listener") this.#sendHello();
      const transcript = this.#transcript(this.#opts.role);
      this.#sendRaw(encodeProof(await this.#opts.identity.sign(transcript)));
      this.#sentProof = true;
      const early = this.#early.splice(0);
      for (const held of early) await this.#onHandshakeFrame(held);
      return;
    }
    if (frame.kind === "proof") {
      if (!this.#peerHello) throw new PeerError("Proof before hello");
      const peerRole: LinkRole = this.#opts.role === "dialer" ? "listener" : "dialer";
      const ok = await verifySignature(
        this.#peerHello.publicKey,
        frame.signature,
        this.#transcript(peerRole),
      );
      if (!ok) throw new PeerError("Peer's signature does not verify: it cannot prove its key");
      if (!this.#sentProof) throw new PeerError("Proof out of order");
      this.#verified = true;
      this.#lastActive = performance.now();
      clearTimeout(this.#handshakeTimer);
      this.#startPings();
      const hello = this.#peerHello;
      this.#peer = {
        id: hello.id,
        publicKey: hello.publicKey,
        advertise: hello.advertise,
        url: this.#opts.url,
        direction: this.#opts.role === "dialer" ? "out" : "in",
      };
      this.#resolveReady(this.#peer);
      return;
    }
    throw new PeerError(`Unexpected ${frame.kind} frame before the handshake finished`);
  }

  /** Pings the peer when the link is quiet, and cuts the link once it has heard nothing for too long. */
  #startPings(): void {
    const intervalMs = this.#opts.pingIntervalMs ?? LINK_DEFAULTS.pingIntervalMs;
    const timing = { intervalMs, deadAfterMs: this.#opts.deadAfterMs ?? LINK_DEFAULTS.deadAfterMs };
    this.#pingTimer = setInterval(() => {
      if (this.#isClosed) return;
      const now = performance.now();
      const state = {
        role: this.#opts.role,
        heardMs: now - this.#lastHeard,
        recordInMs: now - this.#lastRecordIn,
        recordOutMs: now - this.#lastRecordOut,
      };
      const step = livenessStep(state, timing);
      if (step === "cut") {
        this.#log("info", "peer-silent", {
          peer: this.#peer?.id,
          silentMs: Math.round(state.heardMs),
          why: `no answer in ${timing.deadAfterMs} ms: the link is cut`,
        });
        this.#ws.terminate();
        return;
      }
      if (step === "wait") return;
      try {
        this.#ws.ping();
      } catch {
        this.#ws.terminate(); // the socket is gone: close() runs through the close event
      }
    }, intervalMs);
    Deno.unrefTimer(this.#pingTimer);
  }

  #transcript(signer: LinkRole): Uint8Array {
    const mine = this.#myHello;
    const theirs = this.#peerHello!;
    const dialer = this.#opts.role === "dialer" ? mine : theirs;
    const listener = this.#opts.role === "dialer" ? theirs : mine;
    return handshakeTranscript(signer, dialer, listener);
  }

  #onFrame(frame: LinkFrame): void {
    this.#lastActive = performance.now();
    if (frame.kind === "reply") {
      if (!this.#settle(frame.id, frame.reply)) {
        this.#log("debug", "peer-late-reply", { peer: this.#peer?.id, request: frame.id });
      }
      return;
    }
    if (frame.kind === "request") return this.#onRequest(frame.id, frame.hops, frame.parms);
    if (frame.kind === "datagram") {
      try {
        this.#opts.onDatagram?.(this.#peer!, frame.channel, frame.bytes);
      } catch (err) {
        this.#log("error", "peer-datagram-handler-failed", { why: oneLine(err) });
      }
      return;
    }
    this.#fail(CLOSE_CODES.protocol, `Unexpected ${frame.kind} frame after the handshake`);
  }

  #onRequest(id: number, hops: number, parms: Parms): void {
    const limit = this.#opts.maxInFlight ?? LINK_DEFAULTS.maxInFlight;
    if (this.#inFlight >= limit) {
      this.#refused++;
      const now = Date.now();
      if (now - this.#refusedLoggedAt >= 1_000) {
        // One line per second at most, however hard the peer pushes.
        this.#log("warn", "peer-request-refused", {
          peer: this.#peer!.id,
          why: `over ${limit} in flight`,
          count: this.#refused,
        });
        this.#refusedLoggedAt = now;
        this.#refused = 0;
      }
      this.#send(replyFrame(id, reject("peer", `Too many requests in flight (limit ${limit})`)));
      return;
    }
    this.#inFlight++;
    this.#opts.handler(parms, { peer: this.#peer!, hops })
      .catch((err) => reject(rejectCodeOf(err), oneLine(err)))
      .then((reply) => {
        this.#inFlight--;
        try {
          this.#send(replyFrame(id, reply));
        } catch (err) {
          this.#send(
            replyFrame(id, reject(rejectCodeOf(err), `Cannot send reply: ${oneLine(err)}`)),
          );
        }
      });
  }

  #onClose(code: number, reason: string): void {
    this.#isClosed = true;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#terminateTimer);
    this.#terminateTimer = undefined;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    clearInterval(this.#pingTimer);
    if (!this.#verified) {
      // A node of an older link version (2 or before) refuses our hello this way.
      const older = /Unsupported hello \(link version \d+\)/.test(reason);
      this.#rejectReady(
        new PeerError(
          older
            ? `Peer refused our grid link version ${LINK_VERSION} hello: it speaks an older version (2 or before), upgrade it (${code} ${reason})`
            : `Link closed during the handshake (${code} ${reason})`,
        ),
      );
    }
    const why = `Link to "${this.#peer?.id ?? this.#opts.url}" closed (${code}${
      reason ? ` ${reason}` : ""
    })`;
    for (const id of [...this.#pending.keys()]) this.#settle(id, reject("peer", why));
  }
}
