import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { MembershipError } from "./errors.ts";
import { checkEndpoint } from "./patterns.ts";

Deno.test("checkEndpoint() takes HOST:PORT and [IPV6]:PORT, IPv6 made canonical", async (t) => {
  const good: [string, string][] = [
    ["192.0.2.1:51820", "192.0.2.1:51820"],
    ["vpn.example.org:51820", "vpn.example.org:51820"],
    ["[2001:db8::1]:51820", "[2001:db8::1]:51820"],
    ["[FD77:0:0::1]:51820", "[fd77::1]:51820"],
    ["[2001:0db8:0000:0000:0000:0000:0000:0001]:1", "[2001:db8::1]:1"],
    ["[::ffff:192.0.2.1]:51820", "[::ffff:c000:201]:51820"],
  ];
  for (const [text, want] of good) {
    await t.step(`${text} -> ${want}`, () => assertEquals(checkEndpoint(text), want));
  }
  const bad: [string, string][] = [
    ["fd77::1:51820", "want HOST:PORT or [IPV6]:PORT"],
    ["[fd77::1]", "want HOST:PORT"],
    ["[fd77::1]:0", "want HOST:PORT"],
    ["[fd77::1]:65536", "want HOST:PORT"],
    ["[fe80::1%eth0]:51820", "no IPv6 zone"],
    ["[fd77::1::2]:51820", "is not an IPv6 address"],
    ["[1.2.3.4]:51820", "is not an IPv6 address"],
    ["192.0.2.1", "want HOST:PORT"],
  ];
  for (const [text, want] of bad) {
    await t.step(`refuses ${text}`, () => {
      assertThrows(() => checkEndpoint(text), MembershipError, want);
    });
  }
});
