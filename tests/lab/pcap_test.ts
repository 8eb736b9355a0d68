import { assertEquals } from "../../kernel/_testing_assert.ts";
import { captureBlobs, findSecrets, type Secret } from "./pcap.ts";

const SECRET: Secret = { label: "k", bytes: crypto.getRandomValues(new Uint8Array(32)) };

/** A one-packet pcap: Ethernet, IPv4, TCP carrying `payload` at `seq`. */
function pcapOf(segments: [number, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, 0xa1b2c3d4, true);
  header.setUint16(4, 2, true);
  header.setUint16(6, 4, true);
  header.setUint32(16, 65535, true);
  header.setUint32(20, 1, true);
  parts.push(new Uint8Array(header.buffer));
  for (const [seq, payload] of segments) {
    const frame = new Uint8Array(14 + 20 + 20 + payload.length);
    frame[12] = 0x08;
    const ip = frame.subarray(14);
    ip[0] = 0x45;
    ip[2] = (20 + 20 + payload.length) >> 8;
    ip[3] = (20 + 20 + payload.length) & 255;
    ip[9] = 6;
    ip.set([192, 168, 77, 1], 12);
    ip.set([192, 168, 77, 2], 16);
    const tcp = ip.subarray(20);
    tcp.set([0x9c, 0x40, 0x1c, 0xac], 0);
    new DataView(tcp.buffer, tcp.byteOffset).setUint32(4, seq);
    tcp[12] = 5 << 4;
    tcp.set(payload, 20);
    const rec = new DataView(new ArrayBuffer(16));
    rec.setUint32(8, frame.length, true);
    rec.setUint32(12, frame.length, true);
    parts.push(new Uint8Array(rec.buffer), frame);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("findSecrets() sees a secret split over two TCP segments and masked in a WebSocket frame", () => {
  const text = new TextEncoder().encode(`{"x":"${SECRET.bytes.toBase64()}"}`);
  const mask = [1, 2, 3, 4];
  const frame = new Uint8Array(2 + 4 + text.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | text.length;
  frame.set(mask, 2);
  for (let i = 0; i < text.length; i++) frame[6 + i] = text[i] ^ mask[i & 3];
  const upgrade = new TextEncoder().encode("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  const stream = new Uint8Array([...upgrade, ...frame]);
  const cut = upgrade.length + 20;
  const pcap = pcapOf([[1000 + cut, stream.subarray(cut)], [1000, stream.subarray(0, cut)]]);
  assertEquals(findSecrets([pcap], [SECRET]), [], "not visible in the raw capture");
  assertEquals(findSecrets(captureBlobs(pcap), [SECRET]), ["k"]);
});

Deno.test("findSecrets() sees hex and base64url at any offset, and nothing in unrelated bytes", async (t) => {
  for (const prefix of ["", "a", "ab", "abc"]) {
    await t.step(`base64url after ${prefix.length} bytes`, () => {
      const blob = new Uint8Array([...new TextEncoder().encode(prefix), ...SECRET.bytes]);
      const text = new TextEncoder().encode(blob.toBase64({ alphabet: "base64url" }));
      assertEquals(findSecrets([text], [SECRET]), ["k"]);
    });
  }
  assertEquals(findSecrets([new TextEncoder().encode(SECRET.bytes.toHex())], [SECRET]), ["k"]);
  assertEquals(findSecrets([crypto.getRandomValues(new Uint8Array(65536))], [SECRET]), []);
});
