/**
 * Just enough pcap reading to prove that no secret crossed the wire: the
 * capture file itself, every TCP stream reassembled by sequence number, the
 * WebSocket payloads inside them unmasked (a client's frames are XOR-masked,
 * so a secret sent by a client would never show up in the raw bytes), and
 * every UDP payload. Secrets are searched in every encoding they could
 * travel in: raw bytes, hex, base64 and base64url at each byte alignment.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** A secret to look for, with a label for the report (never the secret itself). */
export interface Secret {
  /** What it is, e.g. "node 2 WireGuard private key". */
  label: string;
  /** Its raw bytes. */
  bytes: Uint8Array;
}

/** The byte strings of a capture worth searching. */
export function captureBlobs(pcap: Uint8Array): Uint8Array[] {
  const view = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  if (pcap.length < 24) return [pcap];
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (
    !little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d
  ) {
    throw new Error("not a pcap file");
  }
  const linkType = view.getUint32(20, little);
  const flows = new Map<string, Map<number, Uint8Array>>();
  const udp: Uint8Array[] = [];
  for (let at = 24; at + 16 <= pcap.length;) {
    const caplen = view.getUint32(at + 8, little);
    const frame = pcap.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    const ip = linkType === 1 ? ethernetPayload(frame) : linkType === 101 ? frame : undefined;
    if (!ip || ip.length < 20 || ip[0] >> 4 !== 4) continue;
    const ihl = (ip[0] & 15) * 4;
    const total = (ip[2] << 8) | ip[3];
    const proto = ip[9];
    const body = ip.subarray(ihl, Math.min(total, ip.length));
    const src = `${ip.subarray(12, 16).join(".")}`;
    const dst = `${ip.subarray(16, 20).join(".")}`;
    if (proto === 17 && body.length >= 8) udp.push(body.subarray(8));
    if (proto !== 6 || body.length < 20) continue;
    const sport = (body[0] << 8) | body[1];
    const dport = (body[2] << 8) | body[3];
    const seq = ((body[4] << 24) | (body[5] << 16) | (body[6] << 8) | body[7]) >>> 0;
    const payload = body.subarray((body[12] >> 4) * 4);
    if (payload.length === 0) continue;
    const key = `${src}:${sport}>${dst}:${dport}`;
    const segments = flows.get(key) ?? new Map<number, Uint8Array>();
    segments.set(seq, payload);
    flows.set(key, segments);
  }
  const blobs: Uint8Array[] = [pcap, ...udp];
  for (const segments of flows.values()) {
    const stream = reassemble(segments);
    blobs.push(stream, ...webSocketPayloads(stream));
  }
  return blobs;
}

function ethernetPayload(frame: Uint8Array): Uint8Array | undefined {
  if (frame.length < 14) return undefined;
  let type = (frame[12] << 8) | frame[13];
  let offset = 14;
  if (type === 0x8100 && frame.length >= 18) {
    type = (frame[16] << 8) | frame[17];
    offset = 18;
  }
  return type === 0x0800 ? frame.subarray(offset) : undefined;
}

/** Orders segments by sequence number (with wrap-around) and drops retransmitted bytes. */
function reassemble(segments: Map<number, Uint8Array>): Uint8Array {
  const seqs = [...segments.keys()];
  const base = seqs.reduce((min, s) => ((s - min) | 0) < 0 ? s : min, seqs[0]);
  const ordered = seqs.map((s) => [(s - base) >>> 0, segments.get(s)!] as const).sort((a, b) =>
    a[0] - b[0]
  );
  const parts: Uint8Array[] = [];
  let next = 0;
  for (const [offset, data] of ordered) {
    if (offset + data.length <= next) continue;
    parts.push(data.subarray(Math.max(0, next - offset)));
    next = offset + data.length;
  }
  return Buffer.concat(parts);
}

/** The unmasked payloads of the WebSocket frames in a stream (after an HTTP upgrade, if any). */
function webSocketPayloads(stream: Uint8Array): Uint8Array[] {
  let at = 0;
  const head = new TextDecoder().decode(stream.subarray(0, 4));
  if (head === "GET " || head === "HTTP") {
    const end = Buffer.from(stream).indexOf("\r\n\r\n");
    if (end < 0) return [];
    at = end + 4;
  }
  const out: Uint8Array[] = [];
  while (at + 2 <= stream.length) {
    const masked = (stream[at + 1] & 0x80) !== 0;
    let len = stream[at + 1] & 0x7f;
    at += 2;
    if (len === 126) {
      if (at + 2 > stream.length) break;
      len = (stream[at] << 8) | stream[at + 1];
      at += 2;
    } else if (len === 127) {
      if (at + 8 > stream.length) break;
      len = Number(new DataView(stream.buffer, stream.byteOffset + at, 8).getBigUint64(0));
      at += 8;
    }
    const mask = masked ? stream.subarray(at, at + 4) : undefined;
    if (masked) at += 4;
    const payload = stream.slice(at, Math.min(at + len, stream.length));
    if (mask) { for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]; }
    out.push(payload);
    at += len;
  }
  return out.length > 0 ? [Buffer.concat(out)] : [];
}

/** Every encoding `secret` could travel in. */
export function secretPatterns(secret: Uint8Array): Uint8Array[] {
  const enc = new TextEncoder();
  const patterns = [secret, enc.encode(secret.toHex()), enc.encode(secret.toHex().toUpperCase())];
  for (let k = 0; k < 3; k++) {
    // Base64 of the secret at byte offset k inside a larger blob: only the
    // characters that depend on the secret's bytes alone are kept.
    const padded = new Uint8Array(k + secret.length);
    padded.set(secret, k);
    for (const alphabet of ["base64", "base64url"] as const) {
      const text = padded.toBase64({ alphabet, omitPadding: true });
      const first = Math.ceil((k * 8) / 6);
      const last = Math.floor(((k + secret.length) * 8) / 6);
      patterns.push(enc.encode(text.slice(first + (k === 0 ? 0 : 1), last)));
    }
  }
  return patterns;
}

/** Labels of the secrets found in any blob, in any encoding. */
export function findSecrets(blobs: Uint8Array[], secrets: Secret[]): string[] {
  const buffers = blobs.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const found: string[] = [];
  for (const secret of secrets) {
    const patterns = secretPatterns(secret.bytes);
    if (buffers.some((buf) => patterns.some((p) => buf.indexOf(p) >= 0))) found.push(secret.label);
  }
  return found;
}
