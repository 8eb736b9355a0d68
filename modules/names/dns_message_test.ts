import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { encodeResponse, ipv4Bytes, ipv6Bytes, parseQuery, RCODE } from "./dns_message.ts";
import { dnsQuery, readAnswer } from "./_dns_testing.ts";

Deno.test("parseQuery reads the name lowercased, the type and the class", () => {
  const q = parseQuery(dnsQuery("Alpha.HOME.grid", 28));
  assertEquals(q?.kind, "query");
  if (q?.kind === "query") {
    assertEquals(q.question, { name: "alpha.home.grid", type: 28, class: 1 });
  }
});

Deno.test("parseQuery drops what must not be answered", async (t) => {
  const response = dnsQuery("a.grid");
  response[2] |= 0x80;
  const rows: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["shorter than a header", new Uint8Array(11)],
    ["over 512 bytes", new Uint8Array(513)],
    ["a response", response],
  ];
  for (const [name, bytes] of rows) {
    await t.step(name, () => assertEquals(parseQuery(bytes), undefined));
  }
});

Deno.test("parseQuery answers a malformed question with FORMERR, another opcode with NOTIMP", async (t) => {
  const q = dnsQuery("a.grid");
  const pointer = q.slice();
  pointer[12] = 0xc0;
  const twoQuestions = q.slice();
  twoQuestions[5] = 2;
  const longLabel = new Uint8Array([
    ...q.subarray(0, 12),
    64,
    ...new Uint8Array(64),
    0,
    0,
    1,
    0,
    1,
  ]);
  const tooLong = new Uint8Array([
    ...q.subarray(0, 12),
    ...Array.from({ length: 5 }, () => [63, ...new Uint8Array(63).fill(97)]).flat(),
    0,
    0,
    1,
    0,
    1,
  ]);
  const notify = q.slice();
  notify[2] = (4 << 3) | 1;
  const rows: [string, Uint8Array, number][] = [
    ["the name runs past the end", q.subarray(0, 15), RCODE.FORMERR],
    ["no type and class", q.subarray(0, q.length - 2), RCODE.FORMERR],
    ["a compression pointer", pointer, RCODE.FORMERR],
    ["two questions", twoQuestions, RCODE.FORMERR],
    ["a label over 63 bytes", longLabel, RCODE.FORMERR],
    ["a name over 255 bytes", tooLong.subarray(0, 512), RCODE.FORMERR],
    ["a NOTIFY", notify, RCODE.NOTIMP],
  ];
  for (const [name, bytes, rcode] of rows) {
    await t.step(name, () => {
      const p = parseQuery(bytes);
      assertEquals(p?.kind, "error");
      if (p?.kind === "error") {
        assertEquals(p.rcode, rcode);
        const r = readAnswer(encodeResponse(p, { rcode: p.rcode }));
        assertEquals([r.id, r.rcode, r.addresses], [0x1234, rcode, []]);
      }
    });
  }
});

Deno.test("encodeResponse keeps the id and question, sets QR and AA, copies RD", () => {
  const q = parseQuery(dnsQuery("a.home.grid"))!;
  const bytes = encodeResponse(q, {
    rcode: RCODE.NOERROR,
    answers: [{ type: 1, address: "10.77.0.2" }, { type: 28, address: "fd00::1:2" }],
  });
  const r = readAnswer(bytes);
  assertEquals(r.id, 0x1234);
  assertEquals(r.flags & 0x8000, 0x8000);
  assertEquals(r.flags & 0x0400, 0x0400);
  assertEquals(r.flags & 0x0100, 0x0100);
  assertEquals(r.addresses, ["10.77.0.2", "fd00:0:0:0:0:0:1:2"]);
});

Deno.test("ipv4Bytes and ipv6Bytes refuse what is no address", async (t) => {
  assertEquals([...ipv6Bytes("::ffff:1.2.3.4").subarray(10)], [255, 255, 1, 2, 3, 4]);
  assertEquals(ipv6Bytes("::").length, 16);
  for (const bad of ["1.2.3", "1.2.3.256", "a.b.c.d", "1.2.3.4.5"]) {
    await t.step(bad, () => void assertThrows(() => ipv4Bytes(bad), RangeError));
  }
  for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", "1:2"]) {
    await t.step(bad, () => void assertThrows(() => ipv6Bytes(bad), RangeError));
  }
});
