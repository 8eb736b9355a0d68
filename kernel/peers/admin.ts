/**
 * The agent's peer table as kernel messages, for this node's own user only
 * (origin "local"): `grid peers list` and `grid status` ask for the rows,
 * `grid peers add` asks a running agent to dial a URL now.
 *
 * - `[PEERS_LIST_PROMISE, PEER_ADMIN_MODULE]` → `[ACCEPT, selfId, rows]`,
 *   each row a map `{url, id, state, direction, score, error}` (see
 *   {@link PeerRow}; `url`, `id`, `error` may be null).
 * - `[PEERS_DIAL_PROMISE, PEER_ADMIN_MODULE, url]` → `[ACCEPT, url]`.
 *
 * @module
 */
import { isLinkLocalHost } from "./reachable.ts";
import { accept, definePromise, isAccept, type KnownPromise, reject } from "../promises.ts";
import { type CID, hashText } from "../hash.ts";
import type { Module } from "../module.ts";
import type { Parm, Parms } from "../codec.ts";
import { UsageError } from "../errors.ts";
import type { PeerRow } from "./hub.ts";

/** Asks the agent for its peers. */
export const PEERS_LIST_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peers/list/v1: I am this node's own user and ask which peers you know and how they are; I promise not to pass on what you tell me as anything but your view.",
});

/** Asks the agent to dial a peer URL now. */
export const PEERS_DIAL_PROMISE: KnownPromise = definePromise({
  text:
    "grid/peers/dial/v1: I am this node's own user and ask you to connect to this peer URL now and keep the connection up; I promise the URL is one I chose to trust.",
});

/** The peer admin module's text. */
export const PEER_ADMIN_TEXT =
  "grid/module/peer-admin/v1: I tell this node's own user which peers are connected and dial the peers they add; I answer no one else.";
/** Hash of the peer admin module. */
export const PEER_ADMIN_MODULE: CID = hashText(PEER_ADMIN_TEXT);

/** `[PEERS_LIST, PEER_ADMIN]`. */
export function peersListMessage(): Parms {
  return [PEERS_LIST_PROMISE.cid, PEER_ADMIN_MODULE];
}

/** `[PEERS_DIAL, PEER_ADMIN, url]`. */
export function peersDialMessage(url: string): Parms {
  return [PEERS_DIAL_PROMISE.cid, PEER_ADMIN_MODULE, url];
}

/** What the admin module needs from the peer network. */
export interface PeerAdminSource {
  /** This node's id. */
  readonly selfId: string;
  /** The rows `grid peers list` shows. */
  table(): PeerRow[];
  /** Dials a URL now. */
  dial(url: string): void;
}

/** Checks a peer URL: ws:// or wss://, a host, no credentials or fragment. Returns it normalised. */
export function parsePeerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`Invalid peer URL "${text.slice(0, 200)}": not a URL`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(`Invalid peer URL "${text.slice(0, 200)}": use ws:// or wss://`);
  }
  if (!url.hostname) throw new UsageError(`Invalid peer URL "${text}": no host`);
  if (isLinkLocalHost(url.hostname)) {
    throw new UsageError(
      `Invalid peer URL "${
        text.slice(0, 200)
      }": ${url.hostname} is IPv6 link-local, which needs a zone; use a global or ULA address`,
    );
  }
  if (url.username || url.password || url.hash) {
    throw new UsageError(`Invalid peer URL "${text}": no credentials or fragment`);
  }
  if (url.href.length > 512) throw new UsageError("Invalid peer URL: over 512 characters");
  return url.href;
}

/** The module answering the two admin messages. */
export function peerAdminModule(source: PeerAdminSource): Module {
  return {
    id: PEER_ADMIN_MODULE,
    name: "peer-admin",
    promise: PEER_ADMIN_TEXT,
    scope: "own",
    accept(parms: Parms, ctx): Parms {
      if (ctx.origin !== "local") return reject("denied", "Peer admin answers only the local user");
      if (PEERS_LIST_PROMISE.cid.equals(parms[0])) {
        return accept(source.selfId, source.table() as unknown as Parm[]);
      }
      if (PEERS_DIAL_PROMISE.cid.equals(parms[0])) {
        if (typeof parms[2] !== "string") return reject("usage", "A dial needs a URL");
        let url: string;
        try {
          url = parsePeerUrl(parms[2]);
        } catch (err) {
          return reject("usage", (err as Error).message);
        }
        source.dial(url);
        return accept(url);
      }
      return reject("not-accepted", "Peer admin answers only list and dial");
    },
  };
}

/** Reads a list reply into rows; undefined when it is not an accepted, well-formed one. */
export function readPeerRows(reply: Parms): { selfId: string; rows: PeerRow[] } | undefined {
  if (!isAccept(reply) || typeof reply[1] !== "string" || !Array.isArray(reply[2])) {
    return undefined;
  }
  const rows: PeerRow[] = [];
  for (const r of reply[2]) {
    if (!r || typeof r !== "object" || Array.isArray(r) || r instanceof Uint8Array) {
      return undefined;
    }
    const row = r as Record<string, Parm>;
    const text = (v: Parm) => (typeof v === "string" ? v : null);
    rows.push({
      url: text(row.url),
      id: text(row.id),
      state: (text(row.state) ?? "stopped") as PeerRow["state"],
      direction: row.direction === "in" ? "in" : "out",
      score: typeof row.score === "number" ? row.score : 0,
      error: text(row.error),
    });
  }
  return { selfId: reply[1], rows };
}

/** The URLs in a peers file, one per line (blank lines and `#` comments skipped; none if no file). */
export async function readPeerUrls(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}
