/**
 * The node's own store as a module: the kernel's local cache is just the
 * first module consulted for the get and put promises. A get that misses here
 * is rejected, the kernel asks the next module (a peer proxy, say), and the
 * verified answer is written back through {@link Module.store}.
 *
 * @module
 */
import { asHash, CID, hashText, hashToText, verifyBytes } from "./hash.ts";
import { GridError, oneLine } from "./errors.ts";
import type { Parm, Parms } from "./codec.ts";
import type { Cas } from "./cas.ts";
import type { Module } from "./module.ts";
import { accept, definePromise, type KnownPromise, reject } from "./promises.ts";

/**
 * Byte arrays this process has just hashed itself and found to match a CID,
 * each mapped to that CID (see {@link vouchVerified}). Keyed by the array
 * object, so nothing from outside the process (a decoded peer reply, a
 * worker's answer) can ever be in it; each entry is used once.
 */
const vouched = new WeakMap<Uint8Array, CID>();

/**
 * Records that `bytes` were hashed in this process, as they are now, and
 * matched `cid`, so {@link GET_PROMISE}'s verify need not hash them a second
 * time. For kernel-side code that verified at the trust boundary (the peer
 * proxy hashes a blob's slices while they arrive) and hands the array on at
 * once, keeping no other reference that could change it. The record is
 * consumed by the first verify of those bytes.
 */
export function vouchVerified(cid: CID, bytes: Uint8Array): void {
  vouched.set(bytes, cid);
}

/** True when `bytes` hash to `cid`: by a fresh hash, or once by a record of {@link vouchVerified}. */
function verifiedOnce(cid: CID, bytes: Uint8Array): boolean {
  const prior = vouched.get(bytes);
  if (prior !== undefined) {
    vouched.delete(bytes);
    if (prior.equals(cid)) return true;
  }
  return verifyBytes(cid, bytes);
}

/**
 * Byte arrays {@link GET_PROMISE}'s verify has just passed, each mapped to
 * the CID it checked them against; the store's write-back of exactly those
 * bytes under exactly that CID need not hash them again (one use each).
 */
const passedGetVerify = new WeakMap<Uint8Array, CID>();

/** The promise a `get` makes: the requester verifies what it is given. */
export const GET_PROMISE: KnownPromise = definePromise({
  text:
    "grid/get/v1: I ask for the bytes whose hash I name. I promise to verify them against that hash before I use them, and to keep and share with my peers what I verify.",
  cacheable: true,
  verify: (parms: Parms, reply: Parms) => {
    const cid = asHash(parms[2]);
    const bytes = reply[1];
    if (cid === null || !(bytes instanceof Uint8Array) || !verifiedOnce(cid, bytes)) return false;
    passedGetVerify.set(bytes, cid);
    return true;
  },
});

/** The promise a `put` makes: the bytes are the sender's to share. */
export const PUT_PROMISE: KnownPromise = definePromise({
  text:
    "grid/put/v1: I ask you to keep these bytes under their hash. I promise they are mine to share and that I will not claim they are anything but what their hash says.",
});

/** The store module's promise text, which is also what its hash is taken over. */
export const CAS_MODULE_TEXT =
  "grid/module/cas/v1: I keep bytes under their sha2-256 hash. I return only bytes that verify against the hash you name, and I say so when I do not have them.";

/** Hash of the store module. */
export const CAS_MODULE: CID = hashText(CAS_MODULE_TEXT);

/** `[GET_PROMISE, CAS_MODULE, cid]`: the message that asks for content by hash. */
export function getMessage(cid: CID): Parms {
  return [GET_PROMISE.cid, CAS_MODULE, cid];
}

/** `[PUT_PROMISE, CAS_MODULE, bytes]`: the message that stores content. */
export function putMessage(bytes: Uint8Array): Parms {
  return [PUT_PROMISE.cid, CAS_MODULE, bytes];
}

/** Wraps a {@link Cas} as the module for get and put. */
export function casModule(cas: Cas): Module {
  return {
    id: CAS_MODULE,
    name: "cas",
    promise: CAS_MODULE_TEXT,
    scope: "own",
    async accept(parms: Parms): Promise<Parms> {
      if (GET_PROMISE.cid.equals(parms[0])) {
        const cid = asHash(parms[2]);
        if (!cid) return reject("codec", "A get needs a hash in slot 2");
        const bytes = await cas.get(cid);
        if (!bytes) return reject("not-found", `Not here: "${hashToText(cid)}"`);
        // Cas.get hashed these bytes as it read them (a fresh array no one else holds).
        vouchVerified(cid, bytes);
        return accept(bytes);
      }
      if (PUT_PROMISE.cid.equals(parms[0])) {
        const bytes = parms[2];
        if (!(bytes instanceof Uint8Array)) return reject("codec", "A put needs bytes in slot 2");
        try {
          return accept(await cas.put(bytes));
        } catch (err) {
          // Refusing bad input (over the size limit) is a reject, not a broken promise.
          if (err instanceof GridError) return reject(err.code, oneLine(err));
          throw err;
        }
      }
      return reject("not-accepted", "The store handles only get and put");
    },
    async store(parms: Parms, payload: Parm[]): Promise<void> {
      const cid = asHash(parms[2]);
      const bytes = payload[0];
      if (!cid || !(bytes instanceof Uint8Array)) return;
      // The kernel writes a get's answer back only after GET_PROMISE's verify
      // passed on these very bytes (Kernel.call): hashing them again here would
      // check nothing new. Bytes that verify has not passed are hashed here.
      const checked = passedGetVerify.get(bytes);
      if (checked !== undefined && checked.equals(cid)) {
        passedGetVerify.delete(bytes);
        await cas.putTrusted(cid, bytes);
      } else {
        await cas.putVerified(cid, bytes);
      }
    },
  };
}
