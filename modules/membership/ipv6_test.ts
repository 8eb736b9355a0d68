import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { canonicalIpv6 } from "../../kernel/peers/mod.ts";
import { ipv6Of, ipv6Prefix } from "./ipv6.ts";

const NET = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const OTHER_NET = "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const NODE_A = "bahwqceraa7gwtrnhh3xsupyyz6dfgbeoeylqs3bsngyh5ymb6ohsrcwzbygq";
const NODE_B = "bahwqceraduwyv4gt4oebj3uxudtdpgpdgyp4e5fxa3d4fqwzqrx5vndp57a";

Deno.test("ipv6Prefix() is a unique local /64 (fd00::/8) that depends on the net", () => {
  const prefix = ipv6Prefix(NET);
  assert(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/.test(prefix), prefix);
  assertEquals(ipv6Prefix(NET), prefix);
  assert(ipv6Prefix(OTHER_NET) !== prefix);
});

Deno.test("ipv6Of() is stable, inside the net's /64, and distinct across members and nets", () => {
  const a = ipv6Of(NET, NODE_A);
  assertEquals(ipv6Of(NET, NODE_A), a);
  assertEquals(canonicalIpv6(a), a);
  assertEquals(a.split(":").slice(0, 4).join(":") + "::/64", ipv6Prefix(NET).replace("::", ":0::"));
  assert(ipv6Of(NET, NODE_B) !== a);
  assert(ipv6Of(OTHER_NET, NODE_A) !== a);
  const many = new Set(Array.from({ length: 2000 }, (_, i) => ipv6Of(NET, `node${i}`)));
  assertEquals(many.size, 2000);
});

Deno.test("canonicalIpv6() compresses and lowercases, and refuses what is not IPv6", async (t) => {
  const rows: [string, string | undefined][] = [
    ["FD00:0:0:0:0:0:0:1", "fd00::1"],
    ["fd00::1", "fd00::1"],
    ["10.77.0.1", undefined],
    ["fd00::1/64", undefined],
    ["bob", undefined],
  ];
  for (const [input, want] of rows) {
    await t.step(input, () => assertEquals(canonicalIpv6(input), want));
  }
});
