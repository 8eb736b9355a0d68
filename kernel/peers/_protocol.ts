/**
 * The peer link protocol: the grid messages two nodes exchange over one
 * WebSocket. Every frame is one binary grid message (kernel/codec.ts) led by
 * one of the promises below, addressed to {@link PEER_LINK_MODULE}:
 *
 * - `hello`: `[HELLO, LINK, 2, nodeId, publicKey, nonce, ephemeral, advertise|null]`,
 *   sent by the dialer as soon as the socket opens, and by the listener in
 *   answer to it; `ephemeral` is a fresh X25519 public key;
 * - `proof`: `[PROOF, LINK, signature]`, an Ed25519 signature over
 *   {@link handshakeTranscript} (both nonces, both ephemeral keys, both node
 *   ids, the signer's role and a context string), so neither side can replay
 *   or reflect it, and the ephemeral keys are bound to the proven identities;
 * - `request`: `[REQUEST, LINK, requestId, hops, parms]`, any grid message;
 * - `reply`: `[REPLY, LINK, requestId, reply]`, the reply to that request;
 * - `datagram`: `[DATAGRAM, LINK, channel, bytes]`, opaque bytes for a channel
 *   both ends agreed on beforehand (by request), best effort, never answered
 *   (the WireGuard relay carries encrypted WireGuard packets this way). A
 *   node sends one only after the peer agreed to the channel, so a node that
 *   predates this frame never receives one.
 *
 * Every frame a side sends after its proof is sealed ({@link sealFrame}): the
 * grid message followed by an 8-byte big-endian sequence number (0, 1, 2, ...
 * per direction) and a 16-byte HMAC-SHA256 tag over sequence and message,
 * keyed per direction from the X25519 shared secret ({@link deriveLinkKeys}).
 *
 * Pure encoding and checking; the socket work lives in ws_link.ts.
 *
 * @module
 */
import { asHash, type CID, hashText } from "../hash.ts";
import { CodecError, GridError } from "../errors.ts";
import {
  type DecodeLimits,
  decodeMessage,
  encodeMessage,
  encodeValue,
  MAX_MESSAGE_BYTES,
  type Parm,
  type Parms,
} from "../codec.ts";
import { definePromise, type KnownPromise } from "../promises.ts";
import { Buffer } from "node:buffer";
import {
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type Hash,
  hkdfSync,
  type KeyObject,
  timingSafeEqual,
} from "node:crypto";
import { nodeIdOf, parseNodeId } from "../identity.ts";

/** The link module's text; its hash is slot 1 of every link frame. */
export const PEER_LINK_TEXT =
  "grid/module/peer-link/v1: I carry grid messages between two nodes that have proven their identity keys to each other, and I answer every request I accept with exactly one reply.";
/** Hash of {@link PEER_LINK_TEXT}. */
export const PEER_LINK_MODULE: CID = hashText(PEER_LINK_TEXT);

/** The hello promise: who I am and my challenge to you. */
export const HELLO_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peer/hello/v1: I am the node whose id and public key I name, and I promise to sign your challenge with that key; here is my challenge for you.",
});
/** The proof promise: a signature over both challenges and both ids. */
export const PROOF_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peer/proof/v1: This is my signature over both challenges and both node ids; I promise it was made with the private key of the id I named, which never leaves my node.",
});
/** The request promise: a message for your kernel. */
export const REQUEST_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peer/request/v1: I ask your kernel to handle this message, sent on after the number of hops I name; I promise to wait for one reply under this request id.",
});
/** The reply promise: the answer to one request. */
export const REPLY_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peer/reply/v1: This is your kernel's one reply to the request with this id; I promise I did not alter it.",
});

/** The datagram promise: opaque bytes for an agreed channel, no reply. */
export const DATAGRAM_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peer/datagram/v1: These bytes are one datagram for the channel I name, which you agreed to carry; I deliver them unaltered, at most once, with no promise of delivery, and expect no reply.",
});

/** Largest datagram payload: a UDP datagram's maximum. */
export const MAX_DATAGRAM_BYTES = 65_535;
/** Largest datagram channel number (32 bits). */
export const MAX_CHANNEL = 0xffff_ffff;

/** Link protocol version carried in the hello (2: ephemeral keys and per-frame MACs). */
export const LINK_VERSION = 2;
/** Bytes in a handshake nonce. */
export const NONCE_BYTES = 32;
/** Bytes in a raw X25519 public key. */
export const EPHEMERAL_BYTES = 32;
/** Bytes of the sequence number after every sealed frame. */
export const SEQ_BYTES = 8;
/** Bytes of the (truncated HMAC-SHA256) tag after every sealed frame. */
export const MAC_BYTES = 16;
/** Bytes a sealed frame carries after its grid message. */
export const TRAILER_BYTES = SEQ_BYTES + MAC_BYTES;
/** Context string mixed into every handshake signature. */
export const HANDSHAKE_CONTEXT = "grid/peer-link/v2 handshake";

/** A peer protocol violation (bad frame, failed handshake, broken link). */
export class PeerError extends GridError {
  /** A peer error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super("peer", message, options);
    this.name = "PeerError";
  }
}

/** Which end of a link: the dialer opened the socket. */
export type LinkRole = "dialer" | "listener";

/** A decoded hello. */
export interface Hello {
  /** The sender's node id. */
  readonly id: string;
  /** The sender's raw Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The sender's fresh challenge. */
  readonly nonce: Uint8Array;
  /** The sender's fresh raw X25519 public key for this link. */
  readonly ephemeral: Uint8Array;
  /** Where the sender says it can be dialled. */
  readonly advertise?: string;
}

/** One decoded link frame. */
export type LinkFrame =
  | { kind: "hello"; hello: Hello }
  | { kind: "proof"; signature: Uint8Array }
  | { kind: "request"; id: number; hops: number; parms: Parms }
  | { kind: "reply"; id: number; reply: Parms }
  | { kind: "datagram"; channel: number; bytes: Uint8Array };

/** Encodes a hello frame. */
export function encodeHello(hello: Hello): Uint8Array {
  return encodeMessage([
    HELLO_PROMISE.cid,
    PEER_LINK_MODULE,
    LINK_VERSION,
    hello.id,
    hello.publicKey,
    hello.nonce,
    hello.ephemeral,
    hello.advertise ?? null,
  ]);
}

/** Encodes a proof frame. */
export function encodeProof(signature: Uint8Array): Uint8Array {
  return encodeMessage([PROOF_PROMISE.cid, PEER_LINK_MODULE, signature]);
}

/**
 * The encoded start of every request (or reply) frame, made once by the
 * codec: the grid tag, the array head for all the frame's slots, and the
 * two fixed hashes. `encodeMessage([promise, LINK])` is the tag (5 bytes),
 * the head of an array of two (0x82), then the hashes; only that count
 * changes.
 */
function frameHead(promise: CID, slots: number): Uint8Array {
  const head = encodeMessage([promise, PEER_LINK_MODULE]);
  if (head[5] !== 0x82) throw new Error("Unexpected envelope layout"); // only if the codec changed
  head[5] = 0x80 + slots;
  return head;
}

const REQUEST_HEAD = frameHead(REQUEST_PROMISE.cid, 5);
const REPLY_HEAD = frameHead(REPLY_PROMISE.cid, 4);
const DATAGRAM_HEAD = frameHead(DATAGRAM_PROMISE.cid, 4);

/** The CBOR head of a major type (0: unsigned, 2: byte string) with argument `n`. */
function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  return Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/** Messages carrying a byte string this long take the one-copy generic path. */
const SPLICE_MAX_BYTES = 16 * 1024;

function hasLargeBytes(parms: Parms): boolean {
  for (let i = 1; i < parms.length; i++) {
    const p = parms[i];
    if (p instanceof Uint8Array && p.length >= SPLICE_MAX_BYTES) return true;
  }
  return false;
}

/**
 * `head` followed by the slots after the two hashes. The codec encodes
 * those slots as one array (`rest`, an array of fewer than 24, so a one-byte
 * head); a CBOR array is its head then its items, so dropping that byte
 * leaves exactly the items' encoding, and the result is byte for byte what
 * `encodeMessage` gives for the whole frame (kernel/peer_protocol_test.ts
 * checks this). Saves encoding the two fixed hashes on every frame.
 */
function spliced(head: Uint8Array, rest: Uint8Array): Uint8Array {
  // Every byte is written below; small frames come from node:buffer's pool.
  const out = Buffer.allocUnsafe(head.length + rest.length - 1);
  out.set(head, 0);
  out.set(rest.subarray(1), head.length);
  if (out.length > MAX_MESSAGE_BYTES) {
    throw new CodecError(
      `Message of ${out.length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`,
    );
  }
  return out;
}

/** Encodes a request frame (like encodeMessage's, the bytes may be a node Buffer). */
export function encodeRequest(id: number, hops: number, parms: Parms): Uint8Array {
  if (!Array.isArray(parms) || hasLargeBytes(parms)) {
    return encodeMessage([REQUEST_PROMISE.cid, PEER_LINK_MODULE, id, hops, parms]);
  }
  return spliced(REQUEST_HEAD, encodeValue([id, hops, parms]));
}

/** Encodes a reply frame (like encodeMessage's, the bytes may be a node Buffer). */
export function encodeReply(id: number, reply: Parms): Uint8Array {
  if (!Array.isArray(reply) || hasLargeBytes(reply)) {
    return encodeMessage([REPLY_PROMISE.cid, PEER_LINK_MODULE, id, reply]);
  }
  return spliced(REPLY_HEAD, encodeValue([id, reply]));
}

/**
 * Encodes a datagram frame, byte for byte what `encodeMessage` gives for
 * `[DATAGRAM, LINK, channel, bytes]` (the tests check it), written directly:
 * datagrams are the relay's hot path.
 */
export function encodeDatagram(channel: number, bytes: Uint8Array): Uint8Array {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_CHANNEL) {
    throw new PeerError(`Datagram channel ${channel} is not a 32-bit number`);
  }
  if (bytes.length > MAX_DATAGRAM_BYTES) {
    throw new PeerError(`Datagram of ${bytes.length} bytes is over ${MAX_DATAGRAM_BYTES}`);
  }
  const c = cborHead(0, channel);
  const b = cborHead(2, bytes.length);
  const out = Buffer.allocUnsafe(DATAGRAM_HEAD.length + c.length + b.length + bytes.length);
  out.set(DATAGRAM_HEAD, 0);
  out.set(c, DATAGRAM_HEAD.length);
  out.set(b, DATAGRAM_HEAD.length + c.length);
  out.set(bytes, DATAGRAM_HEAD.length + c.length + b.length);
  return out;
}

function isCount(value: Parm | undefined): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function asParms(value: Parm | undefined, what: string): Parms {
  if (!Array.isArray(value) || value.length === 0 || asHash(value[0]) === null) {
    throw new PeerError(`A ${what} frame must carry a message whose slot 0 is a hash`);
  }
  return value as Parms;
}

/**
 * Decodes one frame strictly: a grid message to the link module led by one
 * of the four link promises, each slot of the right type. Throws
 * {@link PeerError} (or CodecError) for anything else.
 */
export function decodeFrame(bytes: Uint8Array, limits: DecodeLimits = {}): LinkFrame {
  const m = decodeMessage(bytes, limits);
  const promise = m[0];
  if (!PEER_LINK_MODULE.equals(asHash(m[1]) as CID)) {
    throw new PeerError("A link frame must be addressed to the peer-link module");
  }
  if (HELLO_PROMISE.cid.equals(promise)) {
    const [, , version, id, publicKey, nonce, ephemeral, advertise] = m;
    if (m.length !== 8 || version !== LINK_VERSION) {
      throw new PeerError(`Unsupported hello (link version ${String(version)})`);
    }
    if (typeof id !== "string" || !(publicKey instanceof Uint8Array)) {
      throw new PeerError("A hello needs a node id and a public key");
    }
    if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
      throw new PeerError(`A hello needs a ${NONCE_BYTES}-byte nonce`);
    }
    if (!(ephemeral instanceof Uint8Array) || ephemeral.length !== EPHEMERAL_BYTES) {
      throw new PeerError(`A hello needs a ${EPHEMERAL_BYTES}-byte X25519 key`);
    }
    if (advertise !== null && (typeof advertise !== "string" || advertise.length > 512)) {
      throw new PeerError("A hello's advertised URL must be text of at most 512 characters");
    }
    return {
      kind: "hello",
      hello: { id, publicKey, nonce, ephemeral, advertise: advertise ?? undefined },
    };
  }
  if (PROOF_PROMISE.cid.equals(promise)) {
    if (m.length !== 3 || !(m[2] instanceof Uint8Array)) {
      throw new PeerError("A proof needs exactly one signature");
    }
    return { kind: "proof", signature: m[2] };
  }
  if (REQUEST_PROMISE.cid.equals(promise)) {
    if (m.length !== 5 || !isCount(m[2]) || !isCount(m[3])) {
      throw new PeerError("A request needs an id, a hop count and a message");
    }
    return { kind: "request", id: m[2], hops: m[3], parms: asParms(m[4], "request") };
  }
  if (REPLY_PROMISE.cid.equals(promise)) {
    if (m.length !== 4 || !isCount(m[2])) throw new PeerError("A reply needs an id and a message");
    return { kind: "reply", id: m[2], reply: asParms(m[3], "reply") };
  }
  if (DATAGRAM_PROMISE.cid.equals(promise)) {
    const [, , channel, bytes] = m;
    if (
      m.length !== 4 || !isCount(channel) || channel > MAX_CHANNEL ||
      !(bytes instanceof Uint8Array) || bytes.length > MAX_DATAGRAM_BYTES
    ) {
      throw new PeerError("A datagram needs a 32-bit channel and at most 65535 bytes");
    }
    return { kind: "datagram", channel, bytes };
  }
  throw new PeerError("Unknown link frame promise");
}

/** Checks a peer's hello: its id must be the hash of its key, and not our own. */
export function checkHello(hello: Hello, selfId: string): void {
  if (parseNodeId(hello.id) === null) throw new PeerError(`Invalid node id "${hello.id}"`);
  if (hello.publicKey.length !== 32 || nodeIdOf(hello.publicKey) !== hello.id) {
    throw new PeerError(`Node id "${hello.id}" does not match its public key`);
  }
  if (hello.id === selfId) throw new PeerError("Peer has our own node id (dialled ourselves)");
}

/**
 * What the node in `role` signs: context, role, both nonces, both ephemeral
 * X25519 keys, both ids (dialer first).
 */
export function handshakeTranscript(
  role: LinkRole,
  dialer: Hello,
  listener: Hello,
): Uint8Array {
  return encodeValue([
    HANDSHAKE_CONTEXT,
    role,
    dialer.nonce,
    listener.nonce,
    dialer.ephemeral,
    listener.ephemeral,
    dialer.id,
    listener.id,
  ]);
}

/** A fresh X25519 key pair for one link: the raw public key for the hello, the private key kept. */
export interface Ephemeral {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The private key (never leaves this process). */
  readonly privateKey: KeyObject;
}

/** DER SPKI prefix of an X25519 public key; the raw key follows. */
const X25519_SPKI_PREFIX = Uint8Array.from([
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x03,
  0x21,
  0x00,
]);

/** Makes a fresh X25519 key pair for one link's hello. */
export function generateEphemeral(): Ephemeral {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  const der = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  return { publicKey: der.slice(der.length - EPHEMERAL_BYTES), privateKey };
}

/** The two per-direction keys of one link. */
export interface LinkKeys {
  /** Authenticates the frames we send. */
  readonly send: Uint8Array;
  /** Authenticates the frames we receive. */
  readonly receive: Uint8Array;
}

/**
 * Derives the link's two 32-byte frame keys: HKDF-SHA256 over the X25519
 * shared secret of our ephemeral private key and the peer's ephemeral public
 * key, salted with both nonces (dialer's first), info naming the direction and
 * the protocol version. Throws {@link PeerError} for a key that gives no
 * shared secret (a low-order point).
 */
export function deriveLinkKeys(
  role: LinkRole,
  mine: Ephemeral,
  dialer: Hello,
  listener: Hello,
): LinkKeys {
  const theirs = role === "dialer" ? listener.ephemeral : dialer.ephemeral;
  let shared: Uint8Array;
  try {
    const der = new Uint8Array(X25519_SPKI_PREFIX.length + EPHEMERAL_BYTES);
    der.set(X25519_SPKI_PREFIX, 0);
    der.set(theirs, X25519_SPKI_PREFIX.length);
    const publicKey = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
    shared = diffieHellman({ privateKey: mine.privateKey, publicKey });
  } catch (err) {
    throw new PeerError("Peer's X25519 key gives no shared secret", { cause: err });
  }
  const salt = new Uint8Array(2 * NONCE_BYTES);
  salt.set(dialer.nonce, 0);
  salt.set(listener.nonce, NONCE_BYTES);
  const key = (direction: string) =>
    new Uint8Array(
      hkdfSync("sha256", shared, salt, `grid/peer-link/v${LINK_VERSION} ${direction} frames`, 32),
    );
  const toListener = key("dialer-to-listener");
  const toDialer = key("listener-to-dialer");
  return role === "dialer"
    ? { send: toListener, receive: toDialer }
    : { send: toDialer, receive: toListener };
}

function seqBytes(seq: number): Uint8Array {
  const out = new Uint8Array(SEQ_BYTES);
  new DataView(out.buffer).setBigUint64(0, BigInt(seq));
  return out;
}

/** HMAC-SHA256 states after the padded key block, per key (copying one is cheaper than a new HMAC). */
const macStates = new WeakMap<Uint8Array, { inner: Hash; outer: Hash }>();

/**
 * HMAC-SHA256(key, seq || frame), first {@link MAC_BYTES} bytes. Computed as
 * RFC 2104 spells it, from hash states that have already absorbed the padded
 * key: node:crypto's createHmac costs about 4x more per small frame in Deno.
 */
function frameTag(key: Uint8Array, seq: Uint8Array, frame: Uint8Array): Uint8Array {
  let state = macStates.get(key);
  if (!state) {
    if (key.length > 64) throw new Error("HMAC key longer than a SHA-256 block");
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i] ^= key[i];
      opad[i] ^= key[i];
    }
    state = { inner: createHash("sha256").update(ipad), outer: createHash("sha256").update(opad) };
    macStates.set(key, state);
  }
  const inner = state.inner.copy().update(seq).update(frame).digest();
  return state.outer.copy().update(inner).digest().subarray(0, MAC_BYTES);
}

/** `frame` followed by the 8-byte big-endian `seq` and the tag over both. */
export function sealFrame(key: Uint8Array, seq: number, frame: Uint8Array): Uint8Array {
  const s = seqBytes(seq);
  const out = Buffer.allocUnsafe(frame.length + TRAILER_BYTES);
  out.set(frame, 0);
  out.set(s, frame.length);
  out.set(frameTag(key, s, frame), frame.length + SEQ_BYTES);
  return out;
}

/**
 * Checks a sealed frame's tag and that its sequence number is `expected`
 * (frames arrive in order, so anything else is a replay, a drop or a
 * reorder); returns the length of the grid message in front of the trailer.
 * Throws {@link PeerError} otherwise.
 */
export function openFrame(key: Uint8Array, expected: number, sealed: Uint8Array): number {
  const length = sealed.length - TRAILER_BYTES;
  if (length < 0) throw new PeerError("Frame too short to carry a sequence number and MAC");
  const frame = new Uint8Array(sealed.buffer, sealed.byteOffset, length);
  const s = new Uint8Array(sealed.buffer, sealed.byteOffset + length, SEQ_BYTES);
  const tag = new Uint8Array(sealed.buffer, sealed.byteOffset + length + SEQ_BYTES, MAC_BYTES);
  if (!timingSafeEqual(frameTag(key, s, frame), tag)) {
    throw new PeerError("Frame MAC does not verify (altered or injected frame)");
  }
  const seq = new DataView(s.buffer, s.byteOffset, SEQ_BYTES).getBigUint64(0);
  if (seq !== BigInt(expected)) {
    throw new PeerError(
      `Frame sequence ${seq} is not the expected ${expected} (replayed, dropped or reordered)`,
    );
  }
  return length;
}

/** Every link promise, for a kernel that wants to know them. */
export const LINK_PROMISES: readonly KnownPromise[] = [
  HELLO_PROMISE,
  PROOF_PROMISE,
  REQUEST_PROMISE,
  REPLY_PROMISE,
  DATAGRAM_PROMISE,
];
