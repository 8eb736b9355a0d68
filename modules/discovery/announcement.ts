/**
 * The LAN announcement: one UDP datagram in which an agent says "I am a
 * member of open net NAME (id, founder, members) and you can reach me at
 * URL", signed with the node's identity. A signature proves which node
 * speaks, not that the net is what it says: the member the joiner then
 * reaches verifies the join as for any `--via` join, and the joiner is shown
 * the net's id and founder. Also the one-line question a joiner broadcasts.
 *
 * Wire form (UTF-8, at most {@link MAX_DATAGRAM} bytes):
 * `grid-lan/1 announce\n{body JSON}\nSIGNATURE-HEX`, the signature over
 * `grid-lan/1 announce\n{body JSON}`; a question is `grid-lan/1 ask NAME`.
 *
 * @module
 */
import { type Identity, nodeIdOf, verifySignature } from "../../kernel/mod.ts";
import { NET_NAME } from "../membership/mod.ts";

/** The UDP port agents announce on and answer questions at. */
export const LAN_PORT = 7341;

/** Largest datagram sent or read. */
export const MAX_DATAGRAM = 1024;

/** How far an announcement's time may be from the reader's clock (clocks on a LAN drift). */
export const MAX_SKEW_MS = 10 * 60_000;

const MAGIC = "grid-lan/1";
const ANNOUNCE_HEAD = `${MAGIC} announce\n`;
const ASK_HEAD = `${MAGIC} ask `;
const HEX = /^[0-9a-f]*$/;

/** What an announcement says, as its signer sent it. */
export interface Announcement {
  /** The announcing node's id (from `key`). */
  readonly node: string;
  /** Its Ed25519 public key. */
  readonly key: Uint8Array;
  /** The net's id. */
  readonly net: string;
  /** The net's name. */
  readonly name: string;
  /** The founder's node id. */
  readonly founder: string;
  /** Live members the announcer holds. */
  readonly members: number;
  /** The announcer's grid URL ("" when it has none: dial the datagram's source at `port`). */
  readonly url: string;
  /** The announcer's agent port. */
  readonly port: number;
  /** When it was signed (ms since the epoch). */
  readonly at: number;
}

/** The facts to announce for one net. */
export type AnnouncementFacts = Omit<Announcement, "node" | "key" | "at">;

/** Bytes from lowercase hex (the platform's `Uint8Array.fromHex`), undefined when `text` is not. */
function unhex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !HEX.test(text)) return undefined;
  return Uint8Array.fromHex(text);
}

/** Signs an announcement of `facts` by `identity` at `at`: the datagram's bytes. */
export async function signAnnouncement(
  identity: Identity,
  facts: AnnouncementFacts,
  at = Date.now(),
): Promise<Uint8Array> {
  const body = JSON.stringify({
    key: identity.publicKey.toHex(),
    net: facts.net,
    name: facts.name,
    founder: facts.founder,
    members: facts.members,
    url: facts.url,
    port: facts.port,
    at,
  });
  const signed = new TextEncoder().encode(ANNOUNCE_HEAD + body);
  const bytes = new TextEncoder().encode(
    ANNOUNCE_HEAD + body + "\n" + (await identity.sign(signed)).toHex(),
  );
  if (bytes.length > MAX_DATAGRAM) {
    throw new RangeError(`Announcement of net "${facts.name}" exceeds ${MAX_DATAGRAM} bytes`);
  }
  return bytes;
}

function field(
  body: Record<string, unknown>,
  key: string,
  max: number,
  pattern?: RegExp,
): string | undefined {
  const v = body[key];
  return typeof v === "string" && v.length <= max && (!pattern || pattern.test(v)) ? v : undefined;
}

function whole(body: Record<string, unknown>, key: string, max: number): number | undefined {
  const v = body[key];
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max
    ? v as number
    : undefined;
}

/**
 * Reads and verifies an announcement datagram: undefined for anything else
 * (a question, too large, malformed, a bad signature, signed more than
 * {@link MAX_SKEW_MS} from `now`). Never throws: datagrams come from anyone.
 */
export async function readAnnouncement(
  bytes: Uint8Array,
  now = Date.now(),
): Promise<Announcement | undefined> {
  if (bytes.length > MAX_DATAGRAM) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined; // not UTF-8: not ours
  }
  if (!text.startsWith(ANNOUNCE_HEAD)) return undefined;
  const cut = text.lastIndexOf("\n");
  const signed = text.slice(0, cut);
  const sig = unhex(text.slice(cut + 1));
  let body: Record<string, unknown>;
  try {
    const parsed = JSON.parse(signed.slice(ANNOUNCE_HEAD.length));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    body = parsed;
  } catch {
    return undefined; // not JSON: not an announcement
  }
  const keyText = field(body, "key", 64, HEX);
  const key = keyText === undefined ? undefined : unhex(keyText);
  const net = field(body, "net", 100, /^[a-z0-9]+$/);
  const name = field(body, "name", 32, NET_NAME);
  const founder = field(body, "founder", 100, /^[a-z0-9]+$/);
  const members = whole(body, "members", 1_000_000);
  // Printed to the joiner's terminal: printable ASCII only (no escape sequences).
  const url = field(body, "url", 512, /^(|wss?:\/\/[\x21-\x7e]+)$/);
  const port = whole(body, "port", 65535);
  const at = whole(body, "at", Number.MAX_SAFE_INTEGER);
  if (
    !sig || key?.length !== 32 || net === undefined || name === undefined ||
    founder === undefined || members === undefined || url === undefined ||
    port === undefined || at === undefined
  ) return undefined;
  if (Math.abs(now - at) > MAX_SKEW_MS) return undefined;
  if (!(await verifySignature(key, sig, new TextEncoder().encode(signed)))) return undefined;
  return { node: nodeIdOf(key), key, net, name, founder, members, url, port, at };
}

/** The question a joiner broadcasts: "who holds open net `name`?". */
export function askDatagram(name: string): Uint8Array {
  return new TextEncoder().encode(ASK_HEAD + name);
}

/** The net name a question asks for, or undefined when `bytes` is not a question. */
export function readAsk(bytes: Uint8Array): string | undefined {
  if (bytes.length > 64) return undefined;
  const text = new TextDecoder().decode(bytes);
  if (!text.startsWith(ASK_HEAD)) return undefined;
  const name = text.slice(ASK_HEAD.length);
  return NET_NAME.test(name) ? name : undefined;
}

/** Where to dial an announcer: its URL, else the datagram's source address at its port. */
export function dialUrl(a: Announcement, source: string): string {
  if (a.url !== "") return a.url;
  return `ws://${source.includes(":") ? `[${source}]` : source}:${a.port}`;
}
