import { assertEquals } from "../../kernel/_testing_assert.ts";
import { parseRouteSource } from "./wg_route.ts";

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
