import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { alignRows, formatStatus } from "./status.ts";

const NOW = Date.parse("2026-11-27T13:00:00Z");

Deno.test("alignRows() pads every column to its widest cell", () => {
  assertEquals(alignRows([["a", "bb", "c"], ["ccc", "d", "e"]]), ["a    bb  c", "ccc  d   e"]);
});

Deno.test("formatStatus() prints an aligned peer table per net", () => {
  const text = formatStatus({
    schema: 1,
    node: "bahwqceranode",
    agent: true,
    gridPeers: [{ id: "bahwqcerapeer", url: "ws://10.0.0.2:7340", direction: "out" }],
    relay: null,
    nets: [{
      name: "foo",
      id: "bafyreinet",
      status: "live",
      role: "founder",
      revokedBy: null,
      interface: "grid-foo",
      interfaceUp: true,
      interfaceState: "up",
      self: "a",
      address: "10.77.0.1",
      address6: "fd3a:91c2:7e05:0:5c1e:2b7a:9d04:11f3",
      cidr: "10.77.0.0/16",
      cidr6: "fd3a:91c2:7e05::/64",
      policy: "invite",
      psk: true,
      inviteBy: "members",
      listenPort: 51820,
      endpoint: "10.0.0.1:51820",
      members: 3,
      records: 4,
      former: [],
      peers: [
        {
          id: "bahwqcerab",
          name: "b",
          address: "10.77.0.2",
          address6: "fd3a:91c2:7e05:0:1:2:3:4",
          endpoint: "10.0.0.2:51820",
          latestHandshake: NOW / 1000 - 5,
          rxBytes: 2048,
          txBytes: 10,
          configured: true,
          psk: true,
          role: "member",
          link: "up",
          lastHeard: NOW / 1000 - 1,
          records: "same",
          path: "punched",
          via: null,
          why: null,
        },
        {
          id: "bahwqcerac",
          name: "longer-name",
          address: "10.77.0.13",
          endpoint: null,
          latestHandshake: null,
          rxBytes: 0,
          txBytes: 0,
          configured: true,
          psk: true,
          role: "member",
          link: "up",
          lastHeard: NOW / 1000 - 1,
          records: "same",
          path: "relay",
          via: "bahwqcerab",
          why: null,
        },
      ],
    }],
  }, NOW);
  const lines = text.split("\n");
  const header = lines.find((l) => l.includes("HANDSHAKE"))!;
  const rowB = lines.find((l) => l.includes("bahwqcerab"))!;
  const rowC = lines.find((l) => l.includes("bahwqcerac"))!;
  for (const col of ["ADDRESS", "IPV6", "ENDPOINT", "PATH", "HANDSHAKE", "RX", "TX", "NODE"]) {
    assertEquals(rowB[header.indexOf(col) - 1], " ", `column ${col} is aligned`);
  }
  assertEquals(rowB.indexOf("10.77.0.2"), rowC.indexOf("10.77.0.13"));
  assert(rowB.includes("5s ago") && rowB.includes("2.0 KiB"));
  assertEquals(rowB.indexOf("fd3a:91c2:7e05:0:1:2:3:4"), header.indexOf("IPV6"));
  assert(text.includes("address 10.77.0.1 fd3a:91c2:7e05:0:5c1e:2b7a:9d04:11f3"), text);
  assert(text.includes("10.77.0.0/16 fd3a:91c2:7e05::/64"), text);
  assert(rowC.includes("never") && rowC.includes(" - "));
  assert(text.includes("agent  running, 1 grid peer connected"));
  assert(rowB.includes("direct (punched)"), rowB);
  assert(rowC.includes("relay via b"), rowC);
});

Deno.test("formatStatus() says when there is no agent and no net", () => {
  const text = formatStatus({
    schema: 1,
    node: "n",
    agent: false,
    gridPeers: [],
    relay: null,
    nets: [],
  }, NOW);
  assert(text.includes("not running") && text.includes("no nets"));
});

Deno.test("formatStatus() shows this node's role, each peer's, and who revoked former members", () => {
  const text = formatStatus({
    schema: 1,
    node: "bahwqceranode",
    agent: true,
    gridPeers: [],
    relay: { enabled: true, circuits: 1, maxCircuits: 32, bytes: 4096, dropped: 0 },
    nets: [{
      name: "foo",
      id: "bafyreinet",
      status: "live",
      role: "admin",
      revokedBy: null,
      interface: "grid-foo",
      interfaceUp: true,
      interfaceState: "up",
      self: "a",
      address: "10.77.0.1",
      cidr: "10.77.0.0/16",
      policy: "invite",
      psk: false,
      inviteBy: "members",
      listenPort: 51820,
      endpoint: null,
      members: 2,
      records: 5,
      peers: [{
        id: "bahwqcerab",
        name: "b",
        address: "10.77.0.2",
        endpoint: null,
        latestHandshake: null,
        rxBytes: 0,
        txBytes: 0,
        configured: true,
        psk: false,
        role: "founder",
        link: "down",
        lastHeard: NOW / 1000 - 40,
        records: "differ",
        path: "unreachable",
        via: null,
        why: "no relay: nobody linked to both",
      }],
      former: [
        {
          id: "bahwqcerac",
          name: "c",
          address: "10.77.0.3",
          status: "revoked",
          revokedBy: "bahwqcerab",
        },
        { id: "bahwqcerad", name: "d", address: "10.77.0.4", status: "left", revokedBy: null },
      ],
    }],
  }, NOW);
  assert(text.includes("net foo  live  admin a  10.77.0.0/16"), text);
  assert(text.includes("former: c (revoked by b), d (left)"), text);
  assert(
    / b\s+founder\s+10\.77\.0\.2\s+-\s+-\s+unreachable\s+never\s+down \(40s ago\)\s+differ/.test(
      text,
    ),
    text,
  );
  assert(text.includes("  b unreachable: no relay: nobody linked to both"), text);
  assert(text.includes("relay  1 of 32 circuits, 4.0 KiB forwarded"), text);
  assert(text.includes("no grid link to: b (records reach them through others)"), text);
  assert(text.includes("records differ from: b"), text);
});
