import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { alignRows, formatStatus } from "./status.ts";

const NOW = Date.parse("2026-11-27T13:00:00Z");

Deno.test("alignRows() pads every column to its widest cell", () => {
  assertEquals(alignRows([["a", "bb", "c"], ["ccc", "d", "e"]]), ["a    bb  c", "ccc  d   e"]);
});

Deno.test("formatStatus() prints an aligned peer table per net", () => {
  const text = formatStatus({
    node: "bahwqceranode",
    agent: true,
    gridPeers: [{ id: "bahwqcerapeer", url: "ws://10.0.0.2:7340", direction: "out" }],
    nets: [{
      name: "foo",
      id: "bafyreinet",
      status: "live",
      role: "founder",
      revokedBy: null,
      interface: "grid-foo",
      interfaceUp: true,
      address: "10.77.0.1",
      cidr: "10.77.0.0/16",
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
          endpoint: "10.0.0.2:51820",
          latestHandshake: NOW / 1000 - 5,
          rxBytes: 2048,
          txBytes: 10,
          configured: true,
          psk: true,
          role: "member",
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
        },
      ],
    }],
  }, NOW);
  const lines = text.split("\n");
  const header = lines.find((l) => l.includes("HANDSHAKE"))!;
  const rowB = lines.find((l) => l.includes("bahwqcerab"))!;
  const rowC = lines.find((l) => l.includes("bahwqcerac"))!;
  for (const col of ["ADDRESS", "ENDPOINT", "HANDSHAKE", "RX", "TX", "NODE"]) {
    assertEquals(rowB[header.indexOf(col) - 1], " ", `column ${col} is aligned`);
  }
  assertEquals(rowB.indexOf("10.77.0.2"), rowC.indexOf("10.77.0.13"));
  assert(rowB.includes("5s ago") && rowB.includes("2.0 KiB"));
  assert(rowC.includes("never") && rowC.includes(" - "));
  assert(text.includes("agent  running, 1 grid peer connected"));
});

Deno.test("formatStatus() says when there is no agent and no net", () => {
  const text = formatStatus({ node: "n", agent: false, gridPeers: [], nets: [] }, NOW);
  assert(text.includes("not running") && text.includes("no nets"));
});
