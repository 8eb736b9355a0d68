import { assertEquals } from "../../kernel/_testing_assert.ts";
import type { WgDump } from "./wg_dump.ts";
import { planInterface, type WgCurrentState } from "./wg_plan.ts";
import type { WgInterfaceSpec } from "./wg_state.ts";

const ME = "+LeE4KSCVzy4OdAPiZ553dBe3LZLFMOeiTCK8o++GHI=";
const A = "OGvVNZq9Gxay7guF20lP7VmtWv5rRaGEJHuvBaIakHE=";
const B = "wEtOIe5dlH72wUvuOcRzWiMOIxlyg066B6fGEiMdv30=";
const C = "+O2wtM3Yu12twrmWbFJ7w5xC165YkiYmIgTtamKRLFs=";

const SPEC: WgInterfaceSpec = {
  name: "grid0",
  privateKeyFile: "/var/lib/grid/wg.key",
  listenPort: 51820,
  addresses: ["10.77.0.1/16"],
  peers: [
    { publicKey: A, endpoint: "192.168.77.2:51820", allowedIps: ["10.77.0.2/32"] },
    {
      publicKey: B,
      endpoint: "192.168.77.3:51820",
      allowedIps: ["10.77.0.3/32"],
      presharedKeyFile: "/var/lib/grid/psk/b",
      persistentKeepalive: 25,
    },
  ],
};
const PSK_HASH = "ab".repeat(32);

/** The state an interface has once SPEC was applied. */
function applied(): WgCurrentState {
  const dump: WgDump = {
    device: { publicKey: ME, listenPort: 51820 },
    peers: [
      {
        publicKey: A,
        endpoint: "192.168.77.2:51820",
        allowedIps: ["10.77.0.2/32"],
        latestHandshake: 1795000000,
        rxBytes: 10,
        txBytes: 20,
      },
      {
        publicKey: B,
        presharedKeyHash: PSK_HASH,
        endpoint: "192.168.77.3:51820",
        allowedIps: ["10.77.0.3/32"],
        rxBytes: 0,
        txBytes: 0,
        persistentKeepalive: 25,
      },
    ],
  };
  return { dump, link: { addresses: ["10.77.0.1/16"], up: true, mtu: 1420 } };
}
const OPTIONS = { publicKey: ME, presharedKeyHashes: { "/var/lib/grid/psk/b": PSK_HASH } };

Deno.test("planInterface() builds a missing interface from scratch, in order", () => {
  assertEquals(planInterface(SPEC, undefined, OPTIONS), [
    { kind: "create-link" },
    { kind: "set-private-key", privateKeyFile: SPEC.privateKeyFile },
    { kind: "set-listen-port", listenPort: 51820 },
    { kind: "add-address", address: "10.77.0.1/16" },
    { kind: "set-link-up" },
    { kind: "add-peer", peer: SPEC.peers[0] },
    { kind: "add-peer", peer: SPEC.peers[1] },
  ]);
});

Deno.test("planInterface() yields no actions when the spec is already applied", () => {
  assertEquals(planInterface(SPEC, applied(), OPTIONS), []);
});

Deno.test("planInterface() turns one change into one minimal action", async (t) => {
  const rows: [string, (s: WgInterfaceSpec) => WgInterfaceSpec, unknown[]][] = [
    [
      "a changed endpoint is one peer update",
      (s) => ({ ...s, peers: [{ ...s.peers[0], endpoint: "192.168.77.9:51820" }, s.peers[1]] }),
      [{ kind: "update-peer", publicKey: A, changes: { endpoint: "192.168.77.9:51820" } }],
    ],
    [
      "a new allowed IP replaces the list",
      (s) => ({
        ...s,
        peers: [{ ...s.peers[0], allowedIps: ["10.77.0.2/32", "10.9.0.0/24"] }, s.peers[1]],
      }),
      [{
        kind: "update-peer",
        publicKey: A,
        changes: { allowedIps: ["10.77.0.2/32", "10.9.0.0/24"] },
      }],
    ],
    [
      "a dropped member is one removal",
      (s) => ({ ...s, peers: [s.peers[1]] }),
      [{ kind: "remove-peer", publicKey: A }],
    ],
    [
      "a new member is one addition",
      (s) => ({ ...s, peers: [...s.peers, { publicKey: C, allowedIps: ["10.77.0.4/32"] }] }),
      [{ kind: "add-peer", peer: { publicKey: C, allowedIps: ["10.77.0.4/32"] } }],
    ],
    [
      "a dropped keepalive turns it off",
      (s) => ({ ...s, peers: [s.peers[0], { ...s.peers[1], persistentKeepalive: undefined }] }),
      [{ kind: "update-peer", publicKey: B, changes: { persistentKeepalive: 0 } }],
    ],
    [
      "a dropped pre-shared key is removed",
      (s) => ({ ...s, peers: [s.peers[0], { ...s.peers[1], presharedKeyFile: undefined }] }),
      [{ kind: "update-peer", publicKey: B, changes: { presharedKeyFile: null } }],
    ],
    [
      "a new address replaces the old one",
      (s) => ({ ...s, addresses: ["10.77.0.5/16"] }),
      [{ kind: "remove-address", address: "10.77.0.1/16" }, {
        kind: "add-address",
        address: "10.77.0.5/16",
      }],
    ],
    [
      "a new listen port is set in place",
      (s) => ({ ...s, listenPort: 51999 }),
      [{ kind: "set-listen-port", listenPort: 51999 }],
    ],
    ["a listen port of 0 keeps whatever port is bound", (s) => ({ ...s, listenPort: 0 }), []],
    ["a new MTU is set in place", (s) => ({ ...s, mtu: 1380 }), [{ kind: "set-mtu", mtu: 1380 }]],
  ];
  for (const [name, change, expected] of rows) {
    await t.step(name, () => {
      assertEquals(planInterface(change(SPEC), applied(), OPTIONS), expected);
    });
  }
});

Deno.test("planInterface() sets a changed pre-shared key again", () => {
  const options = { ...OPTIONS, presharedKeyHashes: { "/var/lib/grid/psk/b": "cd".repeat(32) } };
  assertEquals(planInterface(SPEC, applied(), options), [
    { kind: "update-peer", publicKey: B, changes: { presharedKeyFile: "/var/lib/grid/psk/b" } },
  ]);
});

Deno.test("planInterface() sets the private key when the interface has another", () => {
  assertEquals(planInterface(SPEC, applied(), { ...OPTIONS, publicKey: C }), [
    { kind: "set-private-key", privateKeyFile: SPEC.privateKeyFile },
  ]);
});

Deno.test("planInterface() brings a down link up and removes stray peers", () => {
  const current = applied();
  current.link.up = false;
  current.dump.peers.push({ publicKey: C, allowedIps: [], rxBytes: 0, txBytes: 0 });
  assertEquals(planInterface(SPEC, current, OPTIONS), [
    { kind: "set-link-up" },
    { kind: "remove-peer", publicKey: C },
  ]);
});

Deno.test("planInterface() adds and removes IPv6 addresses beside the IPv4 one, idempotently", async (t) => {
  const V6 = "fd3a:91c2:7e05:0:5c1e:2b7a:9d04:11f3/64";
  const spec: WgInterfaceSpec = { ...SPEC, addresses: ["10.77.0.1/16", V6] };
  await t.step("a missing IPv6 address is added, the IPv4 one kept", () => {
    assertEquals(planInterface(spec, applied(), OPTIONS), [{ kind: "add-address", address: V6 }]);
  });
  await t.step("once present (as ip prints it), nothing is done", () => {
    const current = applied();
    current.link.addresses = ["fd3a:91c2:7e05:0:5c1e:2b7a:9d04:11f3/64", "10.77.0.1/16"];
    assertEquals(planInterface(spec, current, OPTIONS), []);
  });
  await t.step("a stale IPv6 address is removed, the wanted one added", () => {
    const current = applied();
    current.link.addresses = ["10.77.0.1/16", "fd00::9/64"];
    assertEquals(planInterface(spec, current, OPTIONS), [
      { kind: "remove-address", address: "fd00::9/64" },
      { kind: "add-address", address: V6 },
    ]);
  });
  await t.step("a peer's new /128 updates its allowed IPs alone", () => {
    const withV6 = {
      ...spec,
      peers: [
        { ...SPEC.peers[0], allowedIps: ["10.77.0.2/32", "fd3a:91c2:7e05::2/128"] },
        SPEC.peers[1],
      ],
    };
    const current = applied();
    current.link.addresses = ["10.77.0.1/16", V6];
    assertEquals(planInterface(withV6, current, OPTIONS), [{
      kind: "update-peer",
      publicKey: A,
      changes: { allowedIps: ["10.77.0.2/32", "fd3a:91c2:7e05::2/128"] },
    }]);
  });
});

Deno.test("planInterface() compares canonical forms of addresses and networks", () => {
  const spec: WgInterfaceSpec = {
    ...SPEC,
    addresses: ["FD00::1/64"],
    peers: [{
      publicKey: A,
      endpoint: "[FD00:0::2]:51820",
      allowedIps: ["10.77.0.9/24", "FD00::2/128"],
    }],
  };
  const current = applied();
  current.link.addresses = ["fd00::1/64"];
  current.dump.peers = [{
    publicKey: A,
    endpoint: "[fd00::2]:51820",
    allowedIps: ["10.77.0.0/24", "fd00::2/128"],
    rxBytes: 0,
    txBytes: 0,
  }];
  assertEquals(planInterface(spec, current, OPTIONS), []);
});

Deno.test("planInterface() follows roaming while a session is fresh, and sets the endpoint once it is not", async (t) => {
  const roamed = applied();
  roamed.dump!.peers[0].endpoint = "192.168.77.99:51820"; // A came from a new address
  const spec = { ...SPEC, followRoamingSeconds: 150 };
  const opts = { publicKey: ME, presharedKeyHashes: { "/var/lib/grid/psk/b": PSK_HASH } };
  await t.step("fresh handshake: the roamed endpoint stays", () => {
    assertEquals(planInterface(spec, roamed, { ...opts, nowSeconds: 1795000000 + 100 }), []);
  });
  await t.step("stale handshake: the spec's endpoint is set again", () => {
    assertEquals(planInterface(spec, roamed, { ...opts, nowSeconds: 1795000000 + 200 }), [
      { kind: "update-peer", publicKey: A, changes: { endpoint: "192.168.77.2:51820" } },
    ]);
  });
  await t.step("without followRoamingSeconds the spec always wins", () => {
    assertEquals(planInterface(SPEC, roamed, { ...opts, nowSeconds: 1795000000 + 100 }), [
      { kind: "update-peer", publicKey: A, changes: { endpoint: "192.168.77.2:51820" } },
    ]);
  });
  await t.step(
    "a loopback endpoint (a relay's local end, gone with its agent) is never kept",
    () => {
      for (const endpoint of ["127.0.0.1:40000", "[::1]:40000"]) {
        const relayed = applied();
        relayed.dump!.peers[0].endpoint = endpoint;
        assertEquals(planInterface(spec, relayed, { ...opts, nowSeconds: 1795000000 + 100 }), [
          { kind: "update-peer", publicKey: A, changes: { endpoint: "192.168.77.2:51820" } },
        ]);
      }
    },
  );
});
