/**
 * The joiner's side of a join: reach a member at one of the bootstrap URLs
 * over the peer network, send the signed member request, and get back the
 * admission: the net id, its records (which include the signed admit with
 * this node's tunnel address) and the hash of the net's admission promise.
 *
 * @module
 */
import {
  type CID,
  isHash,
  oneLine,
  type PeerInfo,
  type PeerNetwork,
  readAnswer,
} from "../../kernel/mod.ts";
import { JoinUnreachable, MembershipError } from "./errors.ts";
import type { MemberRequest } from "./member_request.ts";
import { joinMessage, MAX_RECORDS_PER_MESSAGE } from "./protocol.ts";

/** Default time allowed to reach a bootstrap member. */
export const JOIN_CONNECT_TIMEOUT_MS = 15_000;

/** What a member answers when it admits us. */
export interface Admission {
  /** The member that admitted us. */
  peer: string;
  /** The net id. */
  net: string;
  /** The net's records, parents first. */
  records: Uint8Array[];
  /** Hash of the admission promise the net makes. */
  promise: CID;
  /** The address the admitter allocated (the fold has the last word). */
  address: string;
}

/** Options for {@link requestAdmission}. */
export interface RequestAdmissionOptions {
  /** The peer network to reach members over. */
  peers: PeerNetwork;
  /** Bootstrap URLs, tried in order. */
  urls: string[];
  /** Already connected peers to ask after the URLs (an open net joined through known peers). */
  peerIds?: string[];
  /** The joiner's signed request. */
  request: MemberRequest;
  /** Per URL (default {@link JOIN_CONNECT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Cancels the join. */
  signal?: AbortSignal;
}

function normal(url: string | undefined): string {
  if (!url) return "";
  try {
    return new URL(url).href;
  } catch {
    return url; // not a URL: compared as given
  }
}

function matches(peer: PeerInfo, url: string): boolean {
  const want = normal(url);
  return normal(peer.url) === want || normal(peer.advertise) === want;
}

/** Dials `url` and resolves with the id of the peer there once it is connected. */
export function connectTo(
  peers: PeerNetwork,
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  const already = peers.connected().find((p) => matches(p, url));
  if (already) return Promise.resolve(already.id);
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      clearTimeout(timer);
      off();
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const onAbort = () =>
      done(() => reject(new MembershipError(`Join cancelled while dialling "${url}"`)));
    const off = peers.onChange((event) => {
      if (event.type === "up" && matches(event.peer, url)) done(() => resolve(event.peer.id));
    });
    const timer = setTimeout(
      () => done(() => reject(new MembershipError(`Cannot reach "${url}" within ${timeoutMs} ms`))),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      peers.dial(url);
    } catch (err) {
      done(() =>
        reject(new MembershipError(`Cannot dial "${url}": ${oneLine(err)}`, { cause: err }))
      );
    }
  });
}

/**
 * Asks the members at `urls` (in order) to admit us. A member's refusal
 * (expired invite, closed net, ...) ends the join with that reason; an
 * unreachable URL moves on to the next.
 */
export async function requestAdmission(options: RequestAdmissionOptions): Promise<Admission> {
  const timeoutMs = options.timeoutMs ?? JOIN_CONNECT_TIMEOUT_MS;
  const problems: string[] = [];
  const candidates = [
    ...options.urls.map((url) => ({ url, id: undefined as string | undefined })),
    ...(options.peerIds ?? []).map((id) => ({ url: `peer ${id}`, id })),
  ];
  for (const { url, id } of candidates) {
    let peer: string;
    try {
      peer = id ?? await connectTo(options.peers, url, timeoutMs, options.signal);
    } catch (err) {
      problems.push(oneLine(err));
      continue;
    }
    const reply = readAnswer(
      await options.peers.request(peer, joinMessage(options.request.bytes), {
        timeoutMs,
        signal: options.signal,
      }),
    );
    if (!reply.ok) {
      // A member that handled the join and refused it has the last word; a
      // peer that could not handle it (no membership there) does not.
      if (reply.code === "membership") throw new MembershipError(reply.reason);
      problems.push(`"${url}": ${reply.reason}`);
      continue;
    }
    const [net, records, promise, address] = reply.payload;
    if (
      typeof net !== "string" || !Array.isArray(records) ||
      records.length > MAX_RECORDS_PER_MESSAGE * 8 ||
      !records.every((r) => r instanceof Uint8Array) || !isHash(promise) ||
      typeof address !== "string"
    ) {
      problems.push(`"${url}": a malformed admission`);
      continue;
    }
    return { peer, net, records: records as Uint8Array[], promise, address };
  }
  throw new JoinUnreachable(`Cannot join: ${problems.join("; ") || "no bootstrap URL"}`);
}
