/**
 * The few DNS messages the names responder reads and writes (RFC 1035): a
 * query with one question in, an authoritative answer out. Everything is
 * read with bounds; a message that is not a well-formed query yields
 * nothing, so it is dropped, never answered with a guess.
 *
 * @module
 */

/** Record types the responder answers. */
export const DNS_TYPE = { A: 1, AAAA: 28, ANY: 255 } as const;
/** Class IN. */
export const DNS_CLASS_IN = 1;
/** Response codes the responder sends. */
export const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Largest message read (plain DNS over UDP without EDNS is 512 bytes). */
export const MAX_QUERY_BYTES = 512;
const HEADER = 12;

/** One parsed question. */
export interface DnsQuestion {
  /** The name, labels joined by ".", lowercased (ASCII): lookups ignore case. */
  readonly name: string;
  /** QTYPE. */
  readonly type: number;
  /** QCLASS. */
  readonly class: number;
}

/** What {@link parseQuery} makes of a message. */
export type ParsedQuery =
  /** A query to answer. */
  | { kind: "query"; id: number; flags: number; question: DnsQuestion; raw: Uint8Array }
  /** A message to answer with an error code only (`raw`: its question bytes, maybe empty). */
  | { kind: "error"; id: number; flags: number; rcode: number; raw: Uint8Array };

/**
 * Reads a query. Returns undefined for what must not be answered at all: a
 * message shorter than a header, longer than {@link MAX_QUERY_BYTES}, or a
 * response (answering responses would let two responders loop).
 */
export function parseQuery(bytes: Uint8Array): ParsedQuery | undefined {
  if (bytes.length < HEADER || bytes.length > MAX_QUERY_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getUint16(0);
  const flags = view.getUint16(2);
  if (flags & 0x8000) return undefined;
  const none = new Uint8Array(0);
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { kind: "error", id, flags, rcode: RCODE.NOTIMP, raw: none };
  if (view.getUint16(4) !== 1) return { kind: "error", id, flags, rcode: RCODE.FORMERR, raw: none };
  const labels: string[] = [];
  let at = HEADER;
  let length = 0;
  for (;;) {
    if (at >= bytes.length) return { kind: "error", id, flags, rcode: RCODE.FORMERR, raw: none };
    const n = bytes[at];
    // A pointer (0xc0) or a reserved label kind has no place in a question.
    if (n > 63) return { kind: "error", id, flags, rcode: RCODE.FORMERR, raw: none };
    at += 1;
    if (n === 0) break;
    length += n + 1;
    if (at + n > bytes.length || length > 254) {
      return { kind: "error", id, flags, rcode: RCODE.FORMERR, raw: none };
    }
    labels.push(asciiLower(bytes.subarray(at, at + n)));
    at += n;
  }
  if (at + 4 > bytes.length) return { kind: "error", id, flags, rcode: RCODE.FORMERR, raw: none };
  const type = view.getUint16(at);
  const klass = view.getUint16(at + 2);
  const raw = bytes.slice(HEADER, at + 4);
  return {
    kind: "query",
    id,
    flags,
    question: { name: labels.join("."), type, class: klass },
    raw,
  };
}

function asciiLower(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 32 : b);
  return out;
}

/** One answer record: an IPv4 or IPv6 address for the question's name. */
export interface DnsAnswer {
  /** `A` or `AAAA`. */
  readonly type: number;
  /** Dotted IPv4 (for A) or textual IPv6 (for AAAA). */
  readonly address: string;
}

/** Options for {@link encodeResponse}. */
export interface ResponseOptions {
  /** The response code. */
  rcode: number;
  /** Answers (with NOERROR). */
  answers?: readonly DnsAnswer[];
  /** Seconds resolvers may cache answers and denials. */
  ttl?: number;
}

/**
 * Writes the response to `query`: same id and question, QR and AA set, RD
 * copied, no recursion available; answers name the question by pointer.
 */
export function encodeResponse(query: ParsedQuery, options: ResponseOptions): Uint8Array {
  const answers = options.rcode === RCODE.NOERROR ? options.answers ?? [] : [];
  const rdata = answers.map((a) =>
    a.type === DNS_TYPE.AAAA ? ipv6Bytes(a.address) : ipv4Bytes(a.address)
  );
  const size = HEADER + query.raw.length + rdata.reduce((n, r) => n + 12 + r.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, query.id);
  // QR, the query's opcode and RD, AA; RA clear; the code.
  view.setUint16(2, 0x8000 | (query.flags & 0x7900) | 0x0400 | (options.rcode & 0xf));
  view.setUint16(4, query.raw.length > 0 ? 1 : 0);
  view.setUint16(6, answers.length);
  out.set(query.raw, HEADER);
  let at = HEADER + query.raw.length;
  const ttl = options.ttl ?? 5;
  answers.forEach((a, i) => {
    view.setUint16(at, 0xc000 | HEADER);
    view.setUint16(at + 2, a.type);
    view.setUint16(at + 4, DNS_CLASS_IN);
    view.setUint32(at + 6, ttl);
    view.setUint16(at + 10, rdata[i].length);
    out.set(rdata[i], at + 12);
    at += 12 + rdata[i].length;
  });
  return out;
}

/** The 4 bytes of a dotted IPv4 address. */
export function ipv4Bytes(text: string): Uint8Array {
  const parts = text.split(".");
  const bytes = parts.map(Number);
  if (parts.length !== 4 || bytes.some((b, i) => !/^\d{1,3}$/.test(parts[i]) || b > 255)) {
    throw new RangeError(`Invalid IPv4 address "${text.slice(0, 50)}"`);
  }
  return new Uint8Array(bytes);
}

/** The 16 bytes of a textual IPv6 address (`::` and a dotted IPv4 tail allowed). */
export function ipv6Bytes(text: string): Uint8Array {
  const bad = () => new RangeError(`Invalid IPv6 address "${text.slice(0, 50)}"`);
  let groups: number[] = [];
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const read = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    items.forEach((item, i) => {
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = ipv4Bytes(item);
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(item)) out.push(parseInt(item, 16));
      else throw bad();
    });
    return out;
  };
  const head = read(halves[0]);
  if (halves.length === 2) {
    const tail = read(halves[1]);
    if (head.length + tail.length > 7) throw bad();
    groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else groups = head;
  if (groups.length !== 8) throw bad();
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
