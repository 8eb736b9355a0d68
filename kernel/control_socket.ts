/**
 * The control channel between the command line and a running agent: a Unix
 * socket (`$GRID_HOME/agent.sock`, mode 0600 inside the 0700 home) that only
 * the local user can open. One request per connection; every frame is a
 * 4-byte big-endian length and one grid message.
 *
 * The client sends a message (e.g. a command `[promise, module, ...args]`);
 * the agent answers with its kernel's reply. A reply whose slot 2 holds more
 * bytes than one frame should carry is sent as `[CONTROL_OUTPUT, CONTROL,
 * chunk]` frames first, then the reply with an empty slot 2; the client puts
 * the chunks back together.
 *
 * @module
 */
import { hashText } from "./hash.ts";
import type { CID } from "./hash.ts";
import { decodeMessage, encodeMessage, MAX_MESSAGE_BYTES, type Parms } from "./codec.ts";
import { definePromise, isAccept, type KnownPromise, reject } from "./promises.ts";
import type { Logger } from "./service.ts";
import { CodecError, ConfigError, oneLine, rejectCodeOf } from "./errors.ts";

/** The control module's text. */
export const CONTROL_TEXT =
  "grid/module/control/v1: I carry this node's own user's messages to its running agent and bring back the agent's reply unaltered.";
/** Hash of the control module. */
export const CONTROL_MODULE: CID = hashText(CONTROL_TEXT);
/** A chunk of a long reply's output. */
export const CONTROL_OUTPUT_PROMISE: KnownPromise = definePromise({
  text:
    "grid/control/output/v1: These bytes are the next part of the output of the reply that follows; I promise to send them in order.",
});

/** Largest output chunk per frame. */
export const CONTROL_CHUNK_BYTES = 4 * 1024 * 1024;
/** How long the agent waits for a client's request. */
export const CONTROL_READ_TIMEOUT_MS = 10_000;

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

/** Reads one length-prefixed frame; undefined at a clean end of stream. */
export async function readFrame(
  conn: Deno.Conn,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Promise<Parms | undefined> {
  const head = await readExact(conn, 4);
  if (!head) return undefined;
  const length = new DataView(head.buffer).getUint32(0);
  if (length > maxBytes) {
    throw new CodecError(`Control frame of ${length} bytes is over the ${maxBytes}-byte limit`);
  }
  const body = await readExact(conn, length);
  if (!body) throw new CodecError("Control frame cut short");
  return decodeMessage(body, { maxBytes });
}

/** Removes a socket file left by an agent that died; true when one was removed. */
async function removeStale(path: string): Promise<boolean> {
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

/** How long to wait for the agent lock before concluding another agent holds it. */
const LOCK_WAIT_MS = 300;

/**
 * Takes an exclusive lock on `path` (created 0600), or throws when another
 * process holds it. Deno's lock() blocks, so a lock not granted within
 * {@link LOCK_WAIT_MS} means a live holder.
 */
async function claimLock(path: string): Promise<Deno.FsFile> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const granted = await Promise.race([
    file.lock(true).then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), LOCK_WAIT_MS)),
  ]);
  clearTimeout(timer);
  if (!granted) {
    file.close(); // also abandons the pending lock request
    throw new ConfigError(`An agent is already running here ("${path}" is locked)`);
  }
  return file;
}

/** Options for {@link ControlServer.start}. */
export interface ControlServerOptions {
  /** Handles one message from the local user. */
  handler: (parms: Parms) => Promise<Parms>;
  /** Event log. */
  log?: Logger;
}

/** The agent's end of the control channel. */
export class ControlServer {
  #listener: Deno.Listener;
  #path: string;
  #options: ControlServerOptions;
  #conns = new Set<Deno.Conn>();
  #done: Promise<void>;
  #lock: Deno.FsFile;

  private constructor(
    listener: Deno.Listener,
    path: string,
    lock: Deno.FsFile,
    options: ControlServerOptions,
  ) {
    this.#listener = listener;
    this.#path = path;
    this.#lock = lock;
    this.#options = options;
    this.#done = this.#serve();
  }

  /**
   * Claims `path` and starts serving. The claim is an exclusive lock on
   * `path.lock`, held for the agent's whole life, so two agents starting at
   * once on one home cannot both win; only the holder removes a stale socket.
   * The socket is made 0600.
   */
  static async start(path: string, options: ControlServerOptions): Promise<ControlServer> {
    const lock = await claimLock(`${path}.lock`);
    try {
      if (await agentAnswers(path)) {
        throw new ConfigError(`An agent is already running here ("${path}" answers)`);
      }
      await removeStale(path);
      const listener = Deno.listen({ transport: "unix", path });
      await Deno.chmod(path, 0o600);
      return new ControlServer(listener, path, lock, options);
    } catch (err) {
      lock.close();
      throw err;
    }
  }

  /** Stops serving and removes the socket. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) throw err; // already closed
    }
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#done;
    await removeStale(this.#path);
    this.#lock.close(); // releases the claim on this home
  }

  async #serve(): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return;
        }
        this.#options.log?.("error", "control-accept-failed", { why: oneLine(err) });
        continue;
      }
      this.#conns.add(conn);
      this.#handle(conn).finally(() => {
        this.#conns.delete(conn);
        closeQuietly(conn);
      });
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const log = this.#options.log ?? (() => {});
    let parms: Parms | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      timer = setTimeout(() => closeQuietly(conn), CONTROL_READ_TIMEOUT_MS);
      parms = await readFrame(conn);
      clearTimeout(timer);
    } catch (err) {
      clearTimeout(timer);
      log("warn", "control-rejected", { why: oneLine(err) });
      await writeFrame(conn, encodeMessage(reject(rejectCodeOf(err), oneLine(err)))).catch(
        () => {}, // the client may be gone already; nothing else to tell it
      );
      return;
    }
    if (!parms) return;
    let reply: Parms;
    try {
      reply = await this.#options.handler(parms);
    } catch (err) {
      reply = reject(rejectCodeOf(err), oneLine(err));
    }
    try {
      const output = reply[2];
      if (isAccept(reply) && output instanceof Uint8Array && output.length > CONTROL_CHUNK_BYTES) {
        for (let at = 0; at < output.length; at += CONTROL_CHUNK_BYTES) {
          const chunk = output.subarray(at, at + CONTROL_CHUNK_BYTES);
          await writeFrame(
            conn,
            encodeMessage([CONTROL_OUTPUT_PROMISE.cid, CONTROL_MODULE, chunk]),
          );
        }
        reply = [...reply.slice(0, 2), new Uint8Array(0), ...reply.slice(3)] as Parms;
      }
      let bytes: Uint8Array;
      try {
        bytes = encodeMessage(reply);
      } catch (err) {
        bytes = encodeMessage(reject(rejectCodeOf(err), `Cannot send reply: ${oneLine(err)}`));
      }
      await writeFrame(conn, bytes);
    } catch (err) {
      log("debug", "control-reply-failed", { why: oneLine(err) });
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource)) throw err; // already closed is fine
  }
}

async function connect(path: string): Promise<Deno.Conn | undefined> {
  // Only a socket this user owns is the agent's: another user could plant one in the home.
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

/** True when a live agent accepts connections at `path`. */
export async function agentAnswers(path: string): Promise<boolean> {
  const conn = await connect(path);
  if (!conn) return false;
  closeQuietly(conn);
  return true;
}

/**
 * Sends `parms` to the agent at `path` and returns its reply, or undefined
 * when no agent runs there (a stale socket is removed).
 */
export async function callAgent(path: string, parms: Parms): Promise<Parms | undefined> {
  const conn = await connect(path);
  if (!conn) {
    await removeStale(path).catch(() => false); // another CLI may have removed it first
    return undefined;
  }
  try {
    await writeFrame(conn, encodeMessage(parms));
    const chunks: Uint8Array[] = [];
    while (true) {
      const frame = await readFrame(conn);
      if (!frame) throw new ConfigError("The agent closed the control connection early");
      if (CONTROL_OUTPUT_PROMISE.cid.equals(frame[0]) && frame[2] instanceof Uint8Array) {
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
      return [...frame.slice(0, 2), out, ...frame.slice(3)] as Parms;
    }
  } finally {
    closeQuietly(conn);
  }
}
