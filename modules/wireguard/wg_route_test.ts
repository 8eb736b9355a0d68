import { assertEquals } from "../../kernel/_testing_assert.ts";
import { parseGlobalAddresses, parseRouteSource } from "./wg_route.ts";

Deno.test("parseRouteSource() reads prefsrc, and nothing from junk", () => {
  assertEquals(
    parseRouteSource(
      '[{"dst":"192.168.77.2","dev":"eth0","prefsrc":"192.168.77.1","flags":[],"uid":0,"cache":[]}]',
    ),
    "192.168.77.1",
  );
  assertEquals(parseRouteSource('[{"dst":"2001:db8::2","prefsrc":"2001:db8::1"}]'), "2001:db8::1");
  assertEquals(parseRouteSource("[]"), undefined);
  assertEquals(parseRouteSource('[{"prefsrc":"not an ip"}]'), undefined);
  assertEquals(parseRouteSource("RTNETLINK answers: Network is unreachable"), undefined);
});

Deno.test("parseGlobalAddresses() lists IPv4 then IPv6 addresses, skipping tunnels", () => {
  const json = JSON.stringify([
    {
      ifname: "eth0",
      addr_info: [{ family: "inet", local: "192.168.77.3" }, {
        family: "inet6",
        local: "2001:db8::3",
      }],
    },
    { ifname: "wg0abc", addr_info: [{ family: "inet", local: "10.77.0.3" }] },
    { ifname: "grid-office", addr_info: [{ family: "inet", local: "10.78.0.3" }] },
    { ifname: "eth1", addr_info: [{ family: "inet", local: "10.0.0.3" }] },
  ]);
  assertEquals(parseGlobalAddresses(json), ["192.168.77.3", "10.0.0.3", "2001:db8::3"]);
  assertEquals(parseGlobalAddresses("not json"), []);
});
