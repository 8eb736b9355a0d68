import { assertEquals } from "../../kernel/_testing_assert.ts";
import { endpointFrom } from "./_self.ts";

Deno.test("endpointFrom() takes the advertised URL's host, IPv6 in brackets and canonical", async (t) => {
  const rows: [string | undefined, string | undefined][] = [
    ["ws://192.0.2.1:7340", "192.0.2.1:51820"],
    ["ws://node.example.org:7340", "node.example.org:51820"],
    ["ws://[fd77::1]:7340", "[fd77::1]:51820"],
    ["ws://[FD77:0:0::1]:7340", "[fd77::1]:51820"],
    ["wss://[2001:db8::1]/grid", "[2001:db8::1]:51820"],
    ["ws://0.0.0.0:7340", undefined],
    ["ws://[::]:7340", undefined],
    ["ws://[0:0::0]:7340", undefined],
    ["not a url", undefined],
    [undefined, undefined],
  ];
  for (const [url, want] of rows) {
    await t.step(`${url} -> ${want}`, () => assertEquals(endpointFrom(url, 51820), want));
  }
});
