/**
 * A pure parser of `wg show IF dump`. The interface line's private key and
 * every peer's pre-shared key are dropped here, so no secret can travel on
 * from this point into status output, logs or messages. A pre-shared key is
 * kept only as a SHA-256 fingerprint, so the planner can tell a changed key
 * from an unchanged one without ever holding it.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { WireGuardError } from "./wg_error.ts";

/** The interface line of a dump, without its private key. */
export interface WgDumpDevice {
  /** Base64 public key, or undefined when no private key is set. */
  publicKey?: string;
  /** UDP port the interface listens on (0 when not listening). */
  listenPort: number;
  /** Firewall mark, or undefined when off. */
  fwmark?: number;
}

/** One peer line of a dump, without its pre-shared key. */
export interface WgDumpPeer {
  /** Base64 public key. */
  publicKey: string;
  /** Hex SHA-256 of the pre-shared key's base64 text, or undefined when none is set. */
  presharedKeyHash?: string;
  /** `host:port` (IPv6 as `[addr]:port`), or undefined when not known yet. */
  endpoint?: string;
  /** CIDRs routed to this peer. */
  allowedIps: string[];
  /** Unix seconds of the latest handshake, or undefined when there was none. */
  latestHandshake?: number;
  /** Bytes received from this peer. */
  rxBytes: number;
  /** Bytes sent to this peer. */
  txBytes: number;
  /** Keepalive interval in seconds, or undefined when off. */
  persistentKeepalive?: number;
}

/** A parsed `wg show IF dump`. */
export interface WgDump {
  /** The interface itself. */
  device: WgDumpDevice;
  /** Its peers, in the order `wg` printed them. */
  peers: WgDumpPeer[];
}

/** Longest dump accepted (a few thousand peers); bigger input is refused. */
export const MAX_DUMP_BYTES = 4 * 1024 * 1024;

const KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** True when `text` looks like a base64 WireGuard key (32 bytes). */
export function isWgKey(text: string): boolean {
  return KEY.test(text);
}

/** Hex SHA-256 of a key's base64 text: what {@link WgDumpPeer.presharedKeyHash} holds. */
export function keyFingerprint(base64Key: string): string {
  return sha256(new TextEncoder().encode(base64Key.trim())).toHex();
}

/**
 * Parses the output of `wg show IF dump` (one interface, no leading
 * interface-name column).
 *
 * @example
 * ```ts
 * import { parseWgDump } from "./wg_dump.ts";
 * const dump = parseWgDump("(none)\t(none)\t51820\toff\n");
 * dump.device.listenPort; // 51820
 * ```
 */
export function parseWgDump(text: string): WgDump {
  if (text.length > MAX_DUMP_BYTES) {
    throw new WireGuardError(`Cannot parse wg dump: ${text.length} bytes is over the limit`);
  }
  const lines = text.split("\n").filter((line) => line.length > 0);
  if (lines.length === 0) throw new WireGuardError("Cannot parse wg dump: it is empty");
  const device = parseDevice(lines[0]);
  const peers = lines.slice(1).map((line, i) => parsePeer(line, i + 2));
  return { device, peers };
}

function parseDevice(line: string): WgDumpDevice {
  const cols = line.split("\t");
  if (cols.length !== 4) {
    throw new WireGuardError(
      `Cannot parse wg dump: interface line has ${cols.length} columns, expected 4`,
    );
  }
  // cols[0] is the private key: deliberately never read.
  const [, publicKey, port, fwmark] = cols;
  return {
    publicKey: optionalKey(publicKey, "interface public key", 1),
    listenPort: integer(port, "listen port", 1),
    fwmark: fwmark === "off" ? undefined : integer(fwmark.replace(/^0x/, ""), "fwmark", 1, 16),
  };
}

function parsePeer(line: string, lineNo: number): WgDumpPeer {
  const cols = line.split("\t");
  if (cols.length !== 8) {
    throw new WireGuardError(
      `Cannot parse wg dump: line ${lineNo} has ${cols.length} columns, expected 8`,
    );
  }
  const [publicKey, psk, endpoint, allowed, handshake, rx, tx, keepalive] = cols;
  if (!isWgKey(publicKey)) {
    throw new WireGuardError(`Cannot parse wg dump: line ${lineNo} has no valid public key`);
  }
  const pskKey = optionalKey(psk, "pre-shared key", lineNo);
  const latest = integer(handshake, "latest handshake", lineNo);
  return {
    publicKey,
    presharedKeyHash: pskKey === undefined ? undefined : keyFingerprint(pskKey),
    endpoint: endpoint === "(none)" ? undefined : endpoint,
    allowedIps: allowed === "(none)" ? [] : allowed.split(",").filter((ip) => ip.length > 0),
    latestHandshake: latest === 0 ? undefined : latest,
    rxBytes: integer(rx, "rx bytes", lineNo),
    txBytes: integer(tx, "tx bytes", lineNo),
    persistentKeepalive: keepalive === "off" ? undefined : integer(keepalive, "keepalive", lineNo),
  };
}

function optionalKey(text: string, what: string, lineNo: number): string | undefined {
  if (text === "(none)") return undefined;
  // The value is never put into the message: it may be a secret.
  if (!isWgKey(text)) {
    throw new WireGuardError(`Cannot parse wg dump: bad ${what} on line ${lineNo}`);
  }
  return text;
}

function integer(text: string, what: string, lineNo: number, radix = 10): number {
  const ok = radix === 16 ? /^[0-9a-fA-F]{1,16}$/.test(text) : /^[0-9]{1,20}$/.test(text);
  const value = ok ? parseInt(text, radix) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new WireGuardError(
      `Cannot parse wg dump: bad ${what} "${text.slice(0, 24)}" on line ${lineNo}`,
    );
  }
  return value;
}
