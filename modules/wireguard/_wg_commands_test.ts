import { assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import {
  describe,
  ipArgs,
  kickPeerArgs,
  parseIpAddr,
  restartPeerArgs,
  wgSetArgs,
} from "./_wg_commands.ts";
import type { WgAction } from "./wg_plan.ts";
import { WireGuardError } from "./wg_error.ts";

Deno.test("wgSetArgs() and ipArgs() write each action's command line", async (t) => {
  const rows: { name: string; action: WgAction; wg: string[]; ip: string[] }[] = [
    {
      name: "add a peer with a PSK and keepalive",
      action: {
        kind: "add-peer",
        peer: {
          publicKey: "K",
          presharedKeyFile: "/p",
          persistentKeepalive: 25,
          allowedIps: ["10.0.0.2/32", "10.0.1.0/24"],
        },
      },
      wg: [
        "peer",
        "K",
        "preshared-key",
        "/p",
        "persistent-keepalive",
        "25",
        "allowed-ips",
        "10.0.0.2/32,10.0.1.0/24",
      ],
      ip: [],
    },
    {
      name: "a dropped PSK is set from /dev/null",
      action: { kind: "update-peer", publicKey: "K", changes: { presharedKeyFile: null } },
      wg: ["peer", "K", "preshared-key", "/dev/null"],
      ip: [],
    },
    {
      name: "add an address",
      action: { kind: "add-address", address: "10.0.0.1/24" },
      wg: [],
      ip: ["address", "add", "10.0.0.1/24", "dev", "g1"],
    },
    {
      name: "add an IPv6 address, without duplicate address detection",
      action: { kind: "add-address", address: "fd00::1/64" },
      wg: [],
      ip: ["address", "add", "fd00::1/64", "dev", "g1", "nodad"],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      assertEquals(wgSetArgs(row.action), row.wg);
      assertEquals(ipArgs(row.action, "g1"), row.ip);
    });
  }
});

Deno.test("describe() names the interface, quoted", () => {
  assertEquals(describe({ kind: "set-link-up" }, "g1"), 'bring up "g1"');
});

Deno.test("parseIpAddr() keeps IPv4 and global IPv6 addresses, and the link flags", () => {
  const json = JSON.stringify([{
    flags: ["POINTOPOINT", "UP"],
    mtu: 1420,
    addr_info: [
      { family: "inet", local: "10.0.0.1", prefixlen: 24 },
      { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
      { family: "inet6", local: "fd00::1", prefixlen: 64, scope: "global" },
    ],
  }]);
  assertEquals(parseIpAddr(json, "g1"), {
    addresses: ["10.0.0.1/24", "fd00::1/64"],
    up: true,
    mtu: 1420,
  });
  assertThrows(() => parseIpAddr("not json", "g1"), WireGuardError, '"g1"');
});

Deno.test("restartPeerArgs() removes and re-adds the peer in one wg set; kickPeerArgs() toggles keepalive", () => {
  const K = "x".repeat(43) + "=";
  assertEquals(
    restartPeerArgs({
      publicKey: K,
      allowedIps: ["10.77.0.2/32"],
      endpoint: "127.0.0.1:4000",
      persistentKeepalive: 25,
      presharedKeyFile: "/psk",
    }),
    [
      "peer",
      K,
      "remove",
      "peer",
      K,
      "preshared-key",
      "/psk",
      "endpoint",
      "127.0.0.1:4000",
      "persistent-keepalive",
      "25",
      "allowed-ips",
      "10.77.0.2/32",
    ],
  );
  assertEquals(kickPeerArgs(K, "198.51.100.2:51820", 25), [
    "peer",
    K,
    "endpoint",
    "198.51.100.2:51820",
    "persistent-keepalive",
    "0",
    "peer",
    K,
    "persistent-keepalive",
    "25",
  ]);
});
