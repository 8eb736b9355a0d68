/**
 * The command lines of the planned WireGuard actions (`wg set` and `ip`
 * arguments, and how each is described in an error), and the parse of `ip -j
 * addr`: pure, so wg_apply.ts only runs them.
 *
 * @module
 */
import { WireGuardError } from "./wg_error.ts";
import type { WgAction, WgLinkState } from "./wg_plan.ts";
import type { WgPeerSpec } from "./wg_state.ts";

/** The `wg set IF ...` arguments of one action (none for `ip` actions). */
export function wgSetArgs(action: WgAction): string[] {
  switch (action.kind) {
    case "set-private-key":
      return ["private-key", action.privateKeyFile];
    case "set-listen-port":
      return ["listen-port", String(action.listenPort)];
    case "remove-peer":
      return ["peer", action.publicKey, "remove"];
    case "add-peer": {
      const p = action.peer;
      return [
        "peer",
        p.publicKey,
        ...(p.presharedKeyFile ? ["preshared-key", p.presharedKeyFile] : []),
        ...(p.endpoint ? ["endpoint", p.endpoint] : []),
        ...(p.persistentKeepalive ? ["persistent-keepalive", String(p.persistentKeepalive)] : []),
        "allowed-ips",
        p.allowedIps.join(","),
      ];
    }
    case "update-peer": {
      const c = action.changes;
      return [
        "peer",
        action.publicKey,
        ...(c.presharedKeyFile === undefined
          ? []
          : ["preshared-key", c.presharedKeyFile ?? "/dev/null"]),
        ...(c.endpoint === undefined ? [] : ["endpoint", c.endpoint]),
        ...(c.persistentKeepalive === undefined
          ? []
          : ["persistent-keepalive", String(c.persistentKeepalive)]),
        ...(c.allowedIps === undefined ? [] : ["allowed-ips", c.allowedIps.join(",")]),
      ];
    }
    default:
      return [];
  }
}

/**
 * `wg set` arguments that remove peer `peer` and add it back at once: a new
 * peer with an endpoint and keepalive sends a handshake initiation right
 * away, where an endpoint set on an existing peer waits for WireGuard's next
 * retry (up to 5 s, or 25 s in its pause).
 */
export function restartPeerArgs(peer: WgPeerSpec): string[] {
  return ["peer", peer.publicKey, "remove", ...wgSetArgs({ kind: "add-peer", peer })];
}

/**
 * `wg set` arguments that point peer `publicKey` at `endpoint` and make it
 * send a keepalive now (keepalive off, then on again): an existing session
 * moves to the new path without a handshake.
 */
export function kickPeerArgs(publicKey: string, endpoint: string, keepalive: number): string[] {
  return [
    "peer",
    publicKey,
    "endpoint",
    endpoint,
    "persistent-keepalive",
    "0",
    "peer",
    publicKey,
    "persistent-keepalive",
    String(keepalive),
  ];
}

/** The `ip ...` arguments of one action (none for `wg` actions). */
export function ipArgs(action: WgAction, name: string): string[] {
  switch (action.kind) {
    case "set-mtu":
      return ["link", "set", "dev", name, "mtu", String(action.mtu)];
    case "remove-address":
      return ["address", "del", action.address, "dev", name];
    case "add-address":
      // nodad: the address is ours alone (derived from our id); no wait in the tentative state.
      return [
        "address",
        "add",
        action.address,
        "dev",
        name,
        ...(action.address.includes(":") ? ["nodad"] : []),
      ];
    case "set-link-up":
      return ["link", "set", "dev", name, "up"];
    default:
      return [];
  }
}

/** What an action does to interface `name`, for error messages: `add peer to "g1"`. */
export function describe(action: WgAction, name: string): string {
  const what: Record<WgAction["kind"], string> = {
    "create-link": "create interface",
    "set-private-key": "set the private key of",
    "set-listen-port": "set the listen port of",
    "set-mtu": "set the MTU of",
    "remove-address": "remove an address from",
    "add-address": "add an address to",
    "set-link-up": "bring up",
    "remove-peer": "remove a peer from",
    "add-peer": "add peer to",
    "update-peer": "update a peer of",
  };
  return `${what[action.kind]} "${name}"`;
}

/** The link state of interface `name` from `ip -j addr show dev NAME`. */
export function parseIpAddr(json: string, name: string): WgLinkState {
  let links: unknown;
  try {
    links = JSON.parse(json);
  } catch (err) {
    throw new WireGuardError(`Cannot parse the addresses of "${name}"`, { cause: err });
  }
  const link = Array.isArray(links) ? links[0] : undefined;
  if (typeof link !== "object" || link === null) {
    throw new WireGuardError(`Cannot parse the addresses of "${name}": no link in ip output`);
  }
  const l = link as { flags?: string[]; mtu?: number; addr_info?: Record<string, unknown>[] };
  const addresses = (l.addr_info ?? [])
    .filter((a) => a.family === "inet" || (a.family === "inet6" && a.scope === "global"))
    .map((a) => `${a.local}/${a.prefixlen}`);
  return { addresses, up: (l.flags ?? []).includes("UP"), mtu: l.mtu };
}
