import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { WireGuardError } from "./wg_error.ts";
import type { WgInterfaceSpec } from "./wg_state.ts";
import { isEndpoint, isInterfaceName, parseCidr, validateSpec } from "./wg_validate.ts";

const KEY = "OGvVNZq9Gxay7guF20lP7VmtWv5rRaGEJHuvBaIakHE=";
const SPEC: WgInterfaceSpec = {
  name: "grid0",
  privateKeyFile: "/etc/grid/wg.key",
  listenPort: 51820,
  addresses: ["10.77.0.1/16", "fd00::1/64"],
  peers: [{ publicKey: KEY, endpoint: "192.168.77.2:51820", allowedIps: ["10.77.0.2/32"] }],
};

Deno.test("validateSpec() accepts a well-formed spec", () => {
  validateSpec(SPEC);
});

Deno.test("validateSpec() refuses every field that could smuggle an argument", async (t) => {
  const rows: [string, WgInterfaceSpec, string][] = [
    ["name with a leading dash", { ...SPEC, name: "-help" }, "name"],
    ["name over 15 characters", { ...SPEC, name: "a".repeat(16) }, "name"],
    ["relative key path", { ...SPEC, privateKeyFile: "wg.key" }, "absolute"],
    ["port out of range", { ...SPEC, listenPort: 70000 }, "listen port"],
    ["address without prefix", { ...SPEC, addresses: ["10.77.0.1"] }, "address"],
    ["IPv6 address without prefix", { ...SPEC, addresses: ["10.77.0.1/16", "fd00::1"] }, "address"],
    ["no address", { ...SPEC, addresses: [] }, "no address"],
    [
      "bad public key",
      { ...SPEC, peers: [{ ...SPEC.peers[0], publicKey: "remove" }] },
      "public key",
    ],
    [
      "endpoint with a space",
      { ...SPEC, peers: [{ ...SPEC.peers[0], endpoint: "a b:1" }] },
      "endpoint",
    ],
    [
      "allowed IP carrying an option",
      { ...SPEC, peers: [{ ...SPEC.peers[0], allowedIps: ["10.0.0.0/8 remove"] }] },
      "allowed IP",
    ],
    ["duplicate peer", { ...SPEC, peers: [SPEC.peers[0], SPEC.peers[0]] }, "twice"],
    [
      "relative PSK path",
      { ...SPEC, peers: [{ ...SPEC.peers[0], presharedKeyFile: "psk" }] },
      "pre-shared",
    ],
  ];
  for (const [name, spec, includes] of rows) {
    await t.step(name, () => {
      assertThrows(() => validateSpec(spec), WireGuardError, includes);
    });
  }
});

Deno.test("the address helpers accept what wg and ip accept", () => {
  assertEquals(parseCidr("10.77.0.1/16"), { address: "10.77.0.1", prefix: 16, v6: false });
  assertEquals(parseCidr("FD00::1/64"), { address: "fd00::1", prefix: 64, v6: true });
  assertEquals(parseCidr("10.77.0.1/33"), undefined);
  assertEquals(parseCidr("300.1.1.1/8"), undefined);
  assertEquals(isEndpoint("[fd00::1]:51820"), true);
  assertEquals(isEndpoint("vpn.example.org:51820"), true);
  assertEquals(isEndpoint("10.0.0.1:0"), false);
  assertEquals(isEndpoint("-o:1"), false);
  assertEquals(isInterfaceName("wg-a1b2c3"), true);
  assertEquals(isInterfaceName(""), false);
});

Deno.test("isEndpoint() takes bracketed IPv6 endpoints and refuses unbracketed or zoned ones", async (t) => {
  const rows: [string, boolean][] = [
    ["[2001:db8::1]:51820", true],
    ["[FD77:0::1]:51820", true],
    ["[::ffff:192.0.2.1]:1", true],
    ["2001:db8::1:51820", false],
    ["[2001:db8::1]", false],
    ["[2001:db8::1]:0", false],
    ["[fe80::1%eth0]:51820", false],
    ["[fd77::1::2]:51820", false],
    ["[-o]:1", false],
  ];
  for (const [text, want] of rows) {
    await t.step(`${text}: ${want}`, () => assertEquals(isEndpoint(text), want));
  }
});
