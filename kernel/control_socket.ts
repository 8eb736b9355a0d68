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
import { ConfigError, oneLine, rejectCodeOf } from "./errors.ts";
import {
  closeQuietly,
  connectAgent,
  CONTROL_OUTPUT_TEXT,
  CONTROL_TEXT,
  readFrameBytes,
  removeStale,
  writeFrame,
} from "./base/control_client.ts";

export { CONTROL_TEXT, controlSocketPath, writeFrame } from "./base/control_client.ts";

/** Hash of the control module. */
export const CONTROL_MODULE: CID = hashText(CONTROL_TEXT);
/** A chunk of a long reply's output. */
export const CONTROL_OUTPUT_PROMISE: KnownPromise = definePromise({ text: CONTROL_OUTPUT_TEXT });

/** Largest output chunk per frame. */
export const CONTROL_CHUNK_BYTES = 4 * 1024 * 1024;
/** How long the agent waits for a client's request. */
export const CONTROL_READ_TIMEOUT_MS = 10_000;

/** Reads one length-prefixed frame; undefined at a clean end of stream. */
export async function readFrame(
  conn: Deno.Conn,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Promise<Parms | undefined> {
  const body = await readFrameBytes(conn, maxBytes);
  return body && decodeMessage(body, { maxBytes });
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

/** True when a live agent accepts connections at `path`. */
export async function agentAnswers(path: string): Promise<boolean> {
  const conn = await connectAgent(path);
  if (!conn) return false;
  closeQuietly(conn);
  return true;
}

/**
 * Sends `parms` to the agent at `path` and returns its reply, or undefined
 * when no agent runs there (a stale socket is removed).
 */
export async function callAgent(path: string, parms: Parms): Promise<Parms | undefined> {
  const conn = await connectAgent(path);
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
