/**
 * The peer link protocol: the grid messages two nodes exchange over one
 * WebSocket. Every frame is one binary grid message (kernel/codec.ts) led by
 * one of the promises below, addressed to {@link PEER_LINK_MODULE}:
 *
 * - `hello`: `[HELLO, LINK, version, nodeId, publicKey, nonce, ephemeral, advertise|null]`,
 *   sent by the dialer as soon as the socket opens, and by the listener in
 *   answer to it; `version` is {@link LINK_VERSION} and `ephemeral` a fresh
 *   X25519 public key;
 * - `proof`: `[PROOF, LINK, signature]`, an Ed25519 signature over
 *   {@link handshakeTranscript} (both nonces, both ephemeral keys, both node
 *   ids, the signer's role and a context string), so neither side can replay
 *   or reflect it, and the ephemeral keys are bound to the proven identities;
 * - `request`: `[REQUEST, LINK, requestId, hops, parms]`, any grid message;
 * - `reply`: `[REPLY, LINK, requestId, reply]`, the reply to that request;
 * - `datagram`: `[DATAGRAM, LINK, channel, bytes]`, opaque bytes for a channel
 *   both ends agreed on beforehand (by request), best effort, never answered
 *   (a module's relay carries its opaque packets this way). A
 *   node sends one only after the peer agreed to the channel, so a node that
 *   predates this frame never receives one.
 *
 * Every frame a side sends after its proof travels in a sealed record
 * (_record.ts): frames with their lengths, a record sequence number and a
 * Poly1305 tag, keyed per direction from the X25519 shared secret
 * ({@link deriveLinkKeys}).
 *
 * Pure encoding and checking; the socket work lives in _ws_link.ts.
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
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { nodeIdOf, parseNodeId } from "../identity.ts";
import { encodedSizeBound, encodeValueInto } from "../codec.ts";

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

/**
 * Link protocol version carried in the hello (2: ephemeral keys and one
 * HMAC per frame; 3: frames in records, one Poly1305 tag per record).
 */
export const LINK_VERSION = 3;
/** Bytes in a handshake nonce. */
export const NONCE_BYTES = 32;
/** Bytes in a raw X25519 public key. */
export const EPHEMERAL_BYTES = 32;
/** Context string mixed into every handshake signature. */
export const HANDSHAKE_CONTEXT = "grid/peer-link/v3 handshake";

/** A peer protocol violation (bad frame, failed handshake, broken link). */
export class PeerError extends GridError {
  /** A peer error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super("peer", message, options);
    this.name = "PeerError";
  }
}

/** A hello from a node that speaks another version of the link protocol. */
export class LinkVersionError extends PeerError {
  /** The version the peer's hello names. */
  readonly version: number;
  /** A refusal naming the peer's version and ours. */
  constructor(version: number) {
    super(
      `Peer speaks grid link version ${version}, this node speaks version ${LINK_VERSION}: ` +
        `upgrade the older node`,
    );
    this.name = "LinkVersionError";
    this.version = version;
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

/**
 * Writes one frame into `dest` from `at`; returns where it ends, or -1 when
 * `dest` is too small (the bytes past `at` are then garbage).
 */
export type FrameWrite = (dest: Uint8Array, at: number) => number;

/** A frame to write into a record: how to write it, and an upper bound of its size. */
export interface FrameSource {
  /** Writes the frame (see {@link FrameWrite}). */
  write: FrameWrite;
  /** An upper bound of the frame's length in bytes (Infinity for a value that holds itself). */
  bound(): number;
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
 * The encoded start of every request, reply or datagram frame, made once by
 * the codec: the grid tag, the array head for all the frame's slots, and
 * the two fixed hashes. `encodeMessage([promise, LINK])` is the tag (5
 * bytes), the head of an array of two (0x82), then the hashes; only that
 * count changes. A frame is this head followed by its other slots, each
 * encoded on its own: byte for byte what `encodeMessage` gives for the whole
 * frame (the tests check it), without encoding the two hashes every time.
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
/** Most bytes two counts (request id and hops, or reply id) take. */
const COUNTS_BOUND = 18;

/** `head`, then `a`, then `b` if given, then `last`, each a CBOR value. */
function slots(head: Uint8Array, a: Parm, b: Parm | undefined, last: Parm): FrameSource {
  return {
    write(dest, at) {
      if (at + head.length > dest.length) return -1;
      dest.set(head, at);
      let end = encodeValueInto(a, dest, at + head.length);
      if (b !== undefined && end >= 0) end = encodeValueInto(b, dest, end);
      return end < 0 ? end : encodeValueInto(last, dest, end);
    },
    bound: () => head.length + COUNTS_BOUND + encodedSizeBound(last),
  };
}

/** A request frame, to be written into a record. */
export function requestFrame(id: number, hops: number, parms: Parms): FrameSource {
  return slots(REQUEST_HEAD, id, hops, parms);
}

/** A reply frame, to be written into a record. */
export function replyFrame(id: number, reply: Parms): FrameSource {
  return slots(REPLY_HEAD, id, undefined, reply);
}

/**
 * A datagram frame, to be written into a record. Throws {@link PeerError}
 * for a channel that is not 32 bits or more than {@link MAX_DATAGRAM_BYTES}.
 */
export function datagramFrame(channel: number, bytes: Uint8Array): FrameSource {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_CHANNEL) {
    throw new PeerError(`Datagram channel ${channel} is not a 32-bit number`);
  }
  if (bytes.length > MAX_DATAGRAM_BYTES) {
    throw new PeerError(`Datagram of ${bytes.length} bytes is over ${MAX_DATAGRAM_BYTES}`);
  }
  return slots(DATAGRAM_HEAD, channel, undefined, bytes);
}

/** The bytes of one frame on their own (tests, tools); the link writes frames into records. */
export function encodeFrame(frame: FrameSource): Uint8Array {
  const bound = frame.bound();
  if (!Number.isFinite(bound)) {
    throw new CodecError("Cannot encode a value nested this deep (or holding itself)");
  }
  const out = new Uint8Array(bound);
  const end = frame.write(out, 0);
  if (end < 0) throw new Error("A frame is larger than its size bound"); // a bug
  if (end > MAX_MESSAGE_BYTES) {
    throw new CodecError(`Message of ${end} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`);
  }
  return out.subarray(0, end);
}

/** Encodes a request frame on its own. */
export function encodeRequest(id: number, hops: number, parms: Parms): Uint8Array {
  return encodeFrame(requestFrame(id, hops, parms));
}

/** Encodes a reply frame on its own. */
export function encodeReply(id: number, reply: Parms): Uint8Array {
  return encodeFrame(replyFrame(id, reply));
}

/** Encodes a datagram frame on its own (throws {@link PeerError} like {@link datagramFrame}). */
export function encodeDatagram(channel: number, bytes: Uint8Array): Uint8Array {
  return encodeFrame(datagramFrame(channel, bytes));
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
    if (version !== LINK_VERSION && isCount(version)) throw new LinkVersionError(version);
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

/** Every link promise, for a kernel that wants to know them. */
export const LINK_PROMISES: readonly KnownPromise[] = [
  HELLO_PROMISE,
  PROOF_PROMISE,
  REQUEST_PROMISE,
  REPLY_PROMISE,
  DATAGRAM_PROMISE,
];
