import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { createSocket } from "node:dgram";
import { parseDnsAddress, RateLimit, startDnsServer } from "./dns_server.ts";
import { buildNameTable } from "./name_table.ts";
import { dnsQuery, readAnswer } from "./_dns_testing.ts";

Deno.test("parseDnsAddress: IP with an optional port; the rest is one clear error", async (t) => {
  assertEquals(parseDnsAddress("127.0.77.53"), { host: "127.0.77.53", port: 53 });
  assertEquals(parseDnsAddress("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353 });
  assertEquals(parseDnsAddress("[::1]:53"), { host: "::1", port: 53 });
  assertEquals(parseDnsAddress("[::1]"), { host: "::1", port: 53 });
  assertEquals(parseDnsAddress("fd00::53"), { host: "fd00::53", port: 53 });
  for (const bad of ["", "localhost", "1.2.3.4:0", "1.2.3.4:70000", "300.1.1.1"]) {
    await t.step(JSON.stringify(bad), () => {
      assertThrows(() => parseDnsAddress(bad), RangeError, "Invalid DNS address");
    });
  }
});

Deno.test("RateLimit bounds each source per second and all sources together", () => {
  const limit = new RateLimit(2, 3);
  const t0 = 5_000;
  assertEquals([1, 2, 3].map(() => limit.allow("a", t0)), [true, true, false]);
  assertEquals(limit.allow("b", t0), true);
  assertEquals(limit.allow("c", t0), false);
  assertEquals(limit.allow("a", t0 + 1000), true);
});

Deno.test("startDnsServer answers over UDP from the current table", async () => {
  const stop = new AbortController();
  let table = buildNameTable([{
    net: "home",
    members: [{ id: "n1", name: "alpha", joined: 1, addresses: ["10.77.0.1"] }],
  }]);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = await startDnsServer(`127.0.0.1:${port}`, {
    table: () => table,
    suffix: "grid",
    signal: stop.signal,
  });
  const client = createSocket("udp4");
  const ask = (name: string) =>
    new Promise<ReturnType<typeof readAnswer>>((resolve) => {
      client.once("message", (msg: Uint8Array) => resolve(readAnswer(msg)));
      client.send(dnsQuery(name), port, "127.0.0.1");
    });
  try {
    assertEquals(server.address, `127.0.0.1:${port}`);
    assertEquals((await ask("ALPHA.home.grid")).addresses, ["10.77.0.1"]);
    table = buildNameTable([]);
    assertEquals((await ask("alpha.home.grid")).rcode, 3);
  } finally {
    client.close();
    stop.abort();
  }
});
