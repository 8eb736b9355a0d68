/**
 * A fixed snapshot for the dashboard's tests: two nets, a peer whose name is
 * an HTML and label-escaping trap, a former member, a history.
 *
 * @module
 */
import type { DashboardSnapshot } from "./snapshot.ts";
import type { PeerStatus } from "../mesh/mod.ts";

/** A name a hostile member might choose. */
export const EVIL_NAME = `<img src=x onerror="alert(1)">'\\\n&amp;`;

const NOW_MS = 1_800_000_000_000;

function peer(over: Partial<PeerStatus>): PeerStatus {
  return {
    id: "bahwqcerapeer",
    name: "peer",
    address: "10.77.0.2",
    endpoint: "192.168.77.2:51820",
    latestHandshake: NOW_MS / 1000 - 12,
    rxBytes: 1000,
    txBytes: 2000,
    configured: true,
    psk: true,
    role: "member",
    link: "up",
    lastHeard: NOW_MS / 1000 - 1,
    records: "same",
    path: "direct",
    via: null,
    why: null,
    ...over,
  };
}

/** The snapshot. */
export function testSnapshot(): DashboardSnapshot {
  return {
    at: NOW_MS,
    report: {
      schema: 1,
      node: "bahwqceraself",
      agent: true,
      gridPeers: [{ id: "bahwqcerab", url: "ws://192.168.77.2:7340", direction: "out" }],
      relay: { enabled: true, circuits: 1, maxCircuits: 32, bytes: 4096, dropped: 0 },
      nets: [{
        name: "lab",
        id: "bafynet",
        status: "live",
        role: "founder",
        revokedBy: null,
        interface: "grid-lab",
        interfaceUp: true,
        interfaceState: "up",
        self: "alpha",
        address: "10.77.0.1",
        cidr: "10.77.0.0/16",
        policy: "invite",
        psk: true,
        inviteBy: "members",
        listenPort: 51820,
        endpoint: "192.168.77.1:51820",
        members: 3,
        records: 5,
        peers: [
          peer({ id: "bahwqcerab", name: "beta" }),
          peer({
            id: "bahwqcerac",
            name: EVIL_NAME,
            address: "10.77.0.3",
            latestHandshake: null,
            link: "down",
            records: "differ",
            path: "relay",
            via: "bahwqcerab",
          }),
        ],
        former: [{
          id: "bahwqcerad",
          name: "delta",
          address: "10.77.0.4",
          status: "revoked",
          revokedBy: "bahwqceraself",
        }],
      }],
    },
    history: [{
      net: "lab",
      entries: [
        {
          time: NOW_MS - 1000,
          kind: "revoked",
          member: "delta",
          memberId: "bahwqcerad",
          by: "alpha",
          byId: "bahwqceraself",
          detail: null,
        },
        {
          time: NOW_MS - 5000,
          kind: "admit",
          member: EVIL_NAME,
          memberId: "bahwqcerac",
          by: "alpha",
          byId: "bahwqceraself",
          detail: "10.77.0.3",
        },
      ],
    }],
    promises: [{ hash: "bafkreipromise", text: "grid/get/v1: I ask for the bytes" }],
    counters: { reconciles: 7, reconcileErrors: 1, antiEntropyRounds: 4 },
    rssBytes: 50_000_000,
  };
}
