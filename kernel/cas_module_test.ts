import { assert, assertEquals } from "./_testing_assert.ts";
import { Cas } from "./cas.ts";
import {
  CAS_MODULE,
  casModule,
  GET_PROMISE,
  getMessage,
  PUT_PROMISE,
  vouchVerified,
} from "./cas_module.ts";
import { hashBytes, hashText } from "./hash.ts";
import { Kernel } from "./kernel.ts";
import { accept, definePromise, isAccept } from "./promises.ts";
import { MemoryStorage } from "./storage.ts";
import type { Parms } from "./codec.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A kernel whose store misses, and an "any" module that answers gets with `answer`. */
function kernelWith(answer: (cid: Parms[number]) => Uint8Array): { kernel: Kernel; cas: Cas } {
  const cas = new Cas(new MemoryStorage());
  const kernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE] });
  kernel.register(casModule(cas));
  kernel.register({
    id: hashText("test/module/answers-gets"),
    name: "answers",
    promise: "answers gets",
    scope: "any",
    accept: (parms: Parms) => accept(answer(parms[2])),
  });
  return { kernel, cas };
}

Deno.test("Cas.putTrusted() stores without hashing and keeps the size limit", async () => {
  const cas = new Cas(new MemoryStorage(), "cas", { maxBlob: 8 });
  const data = bytes("trusted");
  const cid = hashBytes(data);
  await cas.putTrusted(cid, data);
  assertEquals(await cas.get(cid), data);
  let refused = false;
  try {
    await cas.putTrusted(hashBytes(new Uint8Array(9)), new Uint8Array(9));
  } catch {
    refused = true;
  }
  assert(refused, "a blob over the limit is refused");
});

Deno.test("a get answered elsewhere is verified once and written back", async () => {
  const data = bytes("answered by another module");
  const cid = hashBytes(data);
  const { kernel, cas } = kernelWith(() => data);
  const reply = await kernel.call(getMessage(cid));
  assert(isAccept(reply));
  assertEquals(await cas.get(cid), data);
});

Deno.test("wrong bytes from another module are refused and never stored", async () => {
  const cid = hashBytes(bytes("the promised bytes"));
  const { kernel, cas } = kernelWith(() => bytes("other bytes"));
  const reply = await kernel.call(getMessage(cid));
  assert(!isAccept(reply), "a reply that fails its hash is not returned");
  assertEquals(await cas.get(cid), undefined);
  assertEquals(await cas.list(), []);
});

Deno.test("vouchVerified() spares a second hash only for the same array and hash, once", () => {
  const data = bytes("vouched bytes");
  const cid = hashBytes(data);
  const verify = GET_PROMISE.verify!;
  const msg = getMessage(cid);
  // Without a record, wrong bytes are hashed and fail.
  assert(!verify(msg, accept(bytes("not these bytes"))));
  // A record for another CID does not vouch for this one.
  vouchVerified(hashText("another"), data);
  assert(verify(msg, accept(data)), "falls back to hashing");
  // A copy of vouched bytes is a different array: hashed as usual.
  vouchVerified(cid, data);
  assert(verify(msg, accept(data.slice())));
  assert(verify(msg, accept(data)), "the record is used");
  // Used once: bytes changed afterwards are hashed again and fail.
  data[0] ^= 1;
  assert(!verify(msg, accept(data)), "a record is consumed by its first use");
});

Deno.test("the store hashes whatever the get verify has not just passed", async () => {
  const cas = new Cas(new MemoryStorage());
  const store = casModule(cas).store!;
  const real = bytes("real");
  const cid = hashBytes(real);
  const other = definePromise({ text: "test/other-cacheable/v1", cacheable: true });
  const refused = async (parms: Parms, payload: Uint8Array): Promise<boolean> => {
    try {
      await store(parms, [payload]);
      return false;
    } catch {
      return true;
    }
  };
  assert(await refused([other.cid, CAS_MODULE, cid], bytes("fake")), "another promise");
  assert(await refused(getMessage(cid), bytes("fake")), "a get whose verify never ran");
  // Passed for another hash: no trust for this one.
  const otherBytes = bytes("other");
  assert(GET_PROMISE.verify!(getMessage(hashBytes(otherBytes)), accept(otherBytes)));
  assert(await refused(getMessage(cid), otherBytes), "verified against another hash");
  assertEquals(await cas.list(), []);
  // Passed for this hash: stored.
  assert(GET_PROMISE.verify!(getMessage(cid), accept(real)));
  await store(getMessage(cid), [real]);
  assertEquals(await cas.get(cid), real);
});
