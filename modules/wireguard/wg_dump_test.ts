import { assert, assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { isWgKey, keyFingerprint, parseWgDump } from "./wg_dump.ts";
import { WireGuardError } from "./wg_error.ts";

const PRIV = "+O2wtM3Yu12twrmWbFJ7w5xC165YkiYmIgTtamKRLFs=";
const PUB = "+LeE4KSCVzy4OdAPiZ553dBe3LZLFMOeiTCK8o++GHI=";
const PEER1 = "OGvVNZq9Gxay7guF20lP7VmtWv5rRaGEJHuvBaIakHE=";
const PEER2 = "wEtOIe5dlH72wUvuOcRzWiMOIxlyg066B6fGEiMdv30=";
const PSK = "/eforekAfiaxpHwAd+D67H1eFlfz/yPFZVddJKb5AS0=";

const SAMPLE = [
  `${PRIV}\t${PUB}\t51820\toff`,
  `${PEER1}\t${PSK}\t192.168.77.2:51820\t10.77.0.2/32\t1795000000\t1240\t2480\t25`,
  `${PEER2}\t(none)\t(none)\t10.77.0.3/32,fd00::3/128\t0\t0\t148\toff`,
  "",
].join("\n");

Deno.test("parseWgDump() reads the interface line and every peer", () => {
  const dump = parseWgDump(SAMPLE);
  assertEquals(dump.device, { publicKey: PUB, listenPort: 51820, fwmark: undefined });
  assertEquals(dump.peers.length, 2);
  assertEquals(dump.peers[0], {
    publicKey: PEER1,
    presharedKeyHash: keyFingerprint(PSK),
    endpoint: "192.168.77.2:51820",
    allowedIps: ["10.77.0.2/32"],
    latestHandshake: 1795000000,
    rxBytes: 1240,
    txBytes: 2480,
    persistentKeepalive: 25,
  });
  assertEquals(dump.peers[1], {
    publicKey: PEER2,
    presharedKeyHash: undefined,
    endpoint: undefined,
    allowedIps: ["10.77.0.3/32", "fd00::3/128"],
    latestHandshake: undefined,
    rxBytes: 0,
    txBytes: 148,
    persistentKeepalive: undefined,
  });
});

Deno.test("parseWgDump() drops the private key and the pre-shared keys", () => {
  const text = JSON.stringify(parseWgDump(SAMPLE));
  assert(!text.includes(PRIV), "private key leaked");
  assert(!text.includes(PSK), "pre-shared key leaked");
  assert(!text.includes(Uint8Array.fromBase64(PSK).toHex()), "pre-shared key leaked as hex");
  assert(text.includes(PUB));
});

Deno.test("parseWgDump() reads an interface with no key and a fwmark", () => {
  const dump = parseWgDump("(none)\t(none)\t60939\t0x1f\n");
  assertEquals(dump, {
    device: { publicKey: undefined, listenPort: 60939, fwmark: 31 },
    peers: [],
  });
});

Deno.test("parseWgDump() refuses malformed dumps", async (t) => {
  const rows: [string, string, string][] = [
    ["empty output", "", "empty"],
    ["short interface line", `${PRIV}\t${PUB}\t51820`, "3 columns"],
    ["short peer line", `(none)\t(none)\t1\toff\n${PEER1}\t(none)`, "line 2 has 2 columns"],
    [
      "bad public key",
      `(none)\t(none)\t1\toff\nnot-a-key\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
      "public key",
    ],
    [
      "bad counter",
      `(none)\t(none)\t1\toff\n${PEER1}\t(none)\t(none)\t(none)\t0\t-1\t0\toff`,
      "rx bytes",
    ],
    ["bad port", `(none)\t(none)\tabc\toff`, "listen port"],
  ];
  for (const [name, text, includes] of rows) {
    await t.step(name, () => {
      assertThrows(() => parseWgDump(text), WireGuardError, includes);
    });
  }
});

Deno.test("parseWgDump() never echoes a malformed secret column", () => {
  const secretish = "AAAAsecretAAAA";
  const err = assertThrows(
    () =>
      parseWgDump(`(none)\t(none)\t1\toff\n${PEER1}\t${secretish}\t(none)\t(none)\t0\t0\t0\toff`),
    WireGuardError,
  );
  assert(!err.message.includes(secretish));
});

Deno.test("isWgKey() accepts 32-byte base64 keys only", () => {
  assert(isWgKey(PUB));
  assert(!isWgKey(PUB.slice(1)));
  assert(!isWgKey("A".repeat(42) + "B="), "non-zero padding bits");
  assert(isWgKey("A".repeat(43) + "="));
});
