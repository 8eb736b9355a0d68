/**
 * The client's end of the control channel (`$GRID_HOME/agent.sock`, see
 * `kernel/control_socket.ts` for the agent's end): the socket's path, the
 * check that it is this user's, length-prefixed frames, and
 * {@link callAgentPlain}, a call to the agent that loads neither npm:cborg
 * nor multiformats (frames in the CBOR subset, hashes by Web Crypto), so a
 * command the agent answers starts about as fast as Deno itself.
 *
 * @module
 */
import { CodecError, ConfigError, oneLine } from "../errors.ts";
import { decodeEnvelope, encodeEnvelope, type SubsetValue } from "./cbor_subset.ts";
import { CidBytes, textCid } from "./web_hash.ts";
import { MAX_MESSAGE_BYTES } from "./wire.ts";

/** The control module's text. */
export const CONTROL_TEXT =
  "grid/module/control/v1: I carry this node's own user's messages to its running agent and bring back the agent's reply unaltered.";
/** The text of the promise that leads a chunk of a long reply's output. */
export const CONTROL_OUTPUT_TEXT =
  "grid/control/output/v1: These bytes are the next part of the output of the reply that follows; I promise to send them in order.";

/** The socket path for a grid home root. */
export function controlSocketPath(root: string): string {
  return `${root}/agent.sock`;
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array | undefined> {
  const buf = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(buf.subarray(at));
    if (got === null) return undefined;
    at += got;
  }
  return buf;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** Writes one length-prefixed frame. */
export async function writeFrame(conn: Deno.Conn, message: Uint8Array): Promise<void> {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, message.length);
  await writeAll(conn, head);
  await writeAll(conn, message);
}

/** Reads one length-prefixed frame's bytes; undefined at a clean end of stream. */
export async function readFrameBytes(
  conn: Deno.Conn,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Promise<Uint8Array | undefined> {
  const head = await readExact(conn, 4);
  if (!head) return undefined;
  const length = new DataView(head.buffer).getUint32(0);
  if (length > maxBytes) {
    throw new CodecError(`Control frame of ${length} bytes is over the ${maxBytes}-byte limit`);
  }
  const body = await readExact(conn, length);
  if (!body) throw new CodecError("Control frame cut short");
  return body;
}

/** Removes a socket file left by an agent that died; true when one was removed. */
export async function removeStale(path: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isSocket) return false;
    await Deno.remove(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Closes `conn`; one already closed is fine. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource)) throw err; // already closed is fine
  }
}

/**
 * Connects to the agent at `path`; undefined when no agent is there. Only a
 * socket this user owns is the agent's: another user could plant one in the home.
 */
export async function connectAgent(path: string): Promise<Deno.Conn | undefined> {
  try {
    const info = await Deno.lstat(path);
    const uid = Deno.uid();
    if (!info.isSocket || (uid !== null && info.uid !== null && info.uid !== uid)) {
      throw new ConfigError(
        `"${path}" is not a socket of this user's agent: refusing to talk to it (remove it if no agent runs)`,
      );
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    return await Deno.connect({ transport: "unix", path });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.ConnectionRefused) {
      return undefined;
    }
    throw new ConfigError(`Cannot reach the agent at "${path}": ${oneLine(err)}`, {
      cause: err,
    });
  }
}

/** A reply frame's parms: the subset reader's, else the codec's (any form it reads). */
async function decodeReply(bytes: Uint8Array): Promise<SubsetValue[]> {
  const plain = decodeEnvelope(bytes);
  if (plain) return plain;
  const [{ decodeMessage }, { isHash }] = await Promise.all([
    import("../codec.ts"),
    import("../hash.ts"),
  ]);
  const toPlain = (value: unknown): SubsetValue => {
    if (isHash(value)) return new CidBytes(value.bytes);
    if (Array.isArray(value)) return value.map(toPlain);
    if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
    }
    return value as SubsetValue;
  };
  return decodeMessage(bytes, { maxBytes: MAX_MESSAGE_BYTES }).map(toPlain);
}

let outputPromise: Promise<CidBytes> | undefined;

/**
 * Sends `parms` (slot 0 a promise hash) to the agent at `path` and returns
 * its reply, or undefined when no agent runs there (a stale socket is
 * removed). The same exchange as `callAgent` in `kernel/control_socket.ts`,
 * with CIDs as {@link CidBytes}: chunks of a long output come first and are
 * put back together into slot 2.
 */
export async function callAgentPlain(
  path: string,
  parms: SubsetValue[],
): Promise<SubsetValue[] | undefined> {
  const conn = await connectAgent(path);
  if (!conn) {
    await removeStale(path).catch(() => false); // another CLI may have removed it first
    return undefined;
  }
  try {
    const message = encodeEnvelope(parms);
    if (message.length > MAX_MESSAGE_BYTES) {
      throw new CodecError(
        `Message of ${message.length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`,
      );
    }
    await writeFrame(conn, message);
    outputPromise ??= textCid(CONTROL_OUTPUT_TEXT);
    const output = await outputPromise;
    const chunks: Uint8Array[] = [];
    while (true) {
      const bytes = await readFrameBytes(conn);
      if (!bytes) throw new ConfigError("The agent closed the control connection early");
      const frame = await decodeReply(bytes);
      if (output.equals(frame[0]) && frame[2] instanceof Uint8Array) {
        chunks.push(frame[2]);
        continue;
      }
      if (chunks.length === 0) return frame;
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const out = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return [...frame.slice(0, 2), out, ...frame.slice(3)];
    }
  } finally {
    closeQuietly(conn);
  }
}
