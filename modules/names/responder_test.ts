import { assertEquals } from "../../kernel/_testing_assert.ts";
import { answerQuery } from "./responder.ts";
import { buildNameTable } from "./name_table.ts";
import { RCODE } from "./dns_message.ts";
import { dnsQuery, readAnswer } from "./_dns_testing.ts";

const TABLE = buildNameTable([{
  net: "home",
  members: [
    { id: "n1", name: "alpha", joined: 1, addresses: ["10.77.0.1", "fd77::1"] },
    { id: "n2", name: "beta", joined: 2, addresses: ["10.77.0.2"] },
  ],
}]);

function ask(name: string, type = 1) {
  return readAnswer(answerQuery(dnsQuery(name, type), TABLE, "grid")!);
}

Deno.test("answerQuery answers a member's name, in any case", async (t) => {
  const rows: [string, string, number, string[]][] = [
    ["A", "alpha.home.grid", 1, ["10.77.0.1"]],
    ["AAAA", "alpha.home.grid", 28, ["fd77:0:0:0:0:0:0:1"]],
    ["ANY", "alpha.home.grid", 255, ["10.77.0.1", "fd77:0:0:0:0:0:0:1"]],
    ["mixed case", "BeTa.Home.GRID", 1, ["10.77.0.2"]],
    ["AAAA of a member with no IPv6: no data", "beta.home.grid", 28, []],
    ["MX: no data", "beta.home.grid", 15, []],
  ];
  for (const [name, q, type, addresses] of rows) {
    await t.step(name, () => {
      const r = ask(q, type);
      assertEquals([r.rcode, r.addresses], [RCODE.NOERROR, addresses]);
    });
  }
});

Deno.test("answerQuery: NXDOMAIN under the suffix, REFUSED outside it", () => {
  assertEquals(ask("gamma.home.grid").rcode, RCODE.NXDOMAIN);
  assertEquals(ask("home.grid").rcode, RCODE.NXDOMAIN);
  assertEquals(ask("alpha.other.grid").rcode, RCODE.NXDOMAIN);
  assertEquals(ask("example.com").rcode, RCODE.REFUSED);
  assertEquals(ask("alpha.home.grid.example").rcode, RCODE.REFUSED);
});

Deno.test("answerQuery ignores garbage and responses", () => {
  assertEquals(answerQuery(new Uint8Array([1, 2, 3]), TABLE, "grid"), undefined);
  const response = dnsQuery("alpha.home.grid");
  response[2] |= 0x80;
  assertEquals(answerQuery(response, TABLE, "grid"), undefined);
});

Deno.test("answerQuery: random bytes never throw", () => {
  for (let i = 0; i < 2000; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(12 + (i % 80)));
    if (i % 2 === 0) bytes.set(dnsQuery("alpha.home.grid").subarray(0, 12));
    answerQuery(bytes, TABLE, "grid");
  }
});
