import { assert, assertEquals } from "./_testing_assert.ts";
import { Cas } from "./cas.ts";
import {
  CAS_MODULE,
  casModule,
  GET_PROMISE,
  getMessage,
  PUT_PROMISE,
  putMessage,
} from "./cas_module.ts";
import type { Parm, Parms } from "./codec.ts";
import { CID, hashBytes, hashText, hashToText } from "./hash.ts";
import { Kernel, MAX_HOPS } from "./kernel.ts";
import type { CallContext, Module } from "./module.ts";
import {
  accept,
  definePromise,
  isAccept,
  isReject,
  type KnownPromise,
  reject,
  rejectReason,
} from "./promises.ts";
import { MemoryStorage } from "./storage.ts";

const ASK = definePromise({ text: "test/ask: I ask and promise to use the answer kindly." });
/** A cacheable promise: answers depend only on the parms, and must be the doubled input. */
const DOUBLE = definePromise({
  text: "test/double: I ask for twice my number.",
  cacheable: true,
  verify: (parms, reply) => reply[1] === 2 * (parms[2] as number),
});
const TARGET = hashText("test/module/target");

/** A module whose behaviour is a function; counts its calls. */
interface TestModule extends Module {
  calls: number;
  stored: Parm[][];
}

interface TestModuleOptions {
  scope?: "own" | "any";
  id?: CID;
  store?: boolean;
}

function testModule(
  name: string,
  behave: (parms: Parms, ctx: CallContext) => Parms | Promise<Parms>,
  options: TestModuleOptions = {},
): TestModule {
  const m: TestModule = {
    id: options.id ?? hashText(`test/module/${name}`),
    name,
    promise: `test: ${name}`,
    scope: options.scope ?? "any",
    calls: 0,
    stored: [],
    accept(parms, ctx) {
      m.calls++;
      return behave(parms, ctx);
    },
  };
  if (options.store) {
    (m as { store?: Module["store"] }).store = (_parms, payload) => {
      m.stored.push(payload);
      return Promise.resolve();
    };
  }
  return m;
}

const yes = (name: string) => () => accept(name);
const no = () => reject("not-found", "not here");

function msg(...args: Parm[]): Parms {
  return [ASK.cid, TARGET, ...args];
}

function newKernel(modules: Module[], promises: KnownPromise[] = [ASK, DOUBLE]): Kernel {
  return new Kernel({ promises, modules });
}

Deno.test("the syscall tree starts empty and fills as the kernel consults modules", async () => {
  const a = testModule("a", no);
  const b = testModule("b", yes("b"));
  const kernel = newKernel([a, b]);
  assertEquals(kernel.tree.size, 0);
  assertEquals(kernel.tree.entries(), []);
  assertEquals(await kernel.call(msg("x")), accept("b"));
  const entries = kernel.tree.entries().map((e) =>
    `${e.prefix.length}:${e.module === hashToText(a.id) ? "a" : "b"}:${e.last}`
  );
  assertEquals(entries.sort(), ["2:b:accept", "3:a:reject", "3:b:accept"]);
});

Deno.test("Kernel.call() routes to the module with the longest matching prefix", async () => {
  // general handles every argument; special was only ever seen to handle "x".
  const general = testModule("general", yes("general"));
  const special = testModule("special", yes("special"));
  const kernel = newKernel([general, special]);
  assertEquals(await kernel.call(msg("y")), accept("general"), "registration order first");
  assertEquals(
    await kernel.call(msg("x"), { exclude: new Set([hashToText(general.id)]) }),
    accept("special"),
  );
  // Both accept (promise, module); only special has a record for (promise, module, "x").
  assertEquals(await kernel.call(msg("x")), accept("special"), "longest prefix wins");
  assertEquals(await kernel.call(msg("z")), accept("general"), "a shorter prefix elsewhere");
  assertEquals(general.calls, 2);
  assertEquals(special.calls, 2);
});

Deno.test("Kernel.call() skips modules recorded as rejecting the key", async () => {
  const picky = testModule("picky", (p) => p[2] === "mine" ? accept("picky") : no());
  const fallback = testModule("fallback", (p) => p[2] === "mine" ? no() : accept("fallback"));
  const kernel = newKernel([picky, fallback]);
  assertEquals(await kernel.call(msg("other")), accept("fallback"));
  assertEquals(picky.calls, 1);
  for (let i = 0; i < 5; i++) assertEquals(await kernel.call(msg("other")), accept("fallback"));
  assertEquals(picky.calls, 1, "the recorded rejecter is not asked again");
  assertEquals(await kernel.call(msg("mine")), accept("picky"), "other keys still reach it");
});

Deno.test("Kernel.call() asks a recorded rejecter again only when nobody else accepts", async () => {
  const cas = new Cas(new MemoryStorage());
  const kernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE], modules: [casModule(cas)] });
  const data = new TextEncoder().encode("later");
  const cid = hashBytes(data);
  const miss = await kernel.call(getMessage(cid));
  assertEquals(rejectReason(miss).code, "not-found");
  // The miss is recorded, but a cache filled since must still be found.
  assert(isAccept(await kernel.call(putMessage(data))));
  assertEquals(await kernel.call(getMessage(cid)), accept(data));
});

Deno.test("Kernel.call() demotes a module that breaks its promises", async (t) => {
  await t.step("a module that throws", async () => {
    let flaky = true;
    const shaky = testModule("shaky", () => {
      if (flaky) throw new Error("disk on fire");
      return accept("shaky");
    });
    const steady = testModule("steady", yes("steady"));
    const kernel = newKernel([shaky, steady]);
    assertEquals(await kernel.call(msg(1)), accept("steady"), "the throw became a fallthrough");
    flaky = false;
    // New arguments: shaky would come first by registration order, but it is demoted.
    assertEquals(await kernel.call(msg(2)), accept("steady"));
    assertEquals(await kernel.call(msg(3)), accept("steady"));
    assertEquals(shaky.calls, 1);
    assertEquals(
      kernel.tree.outcomeAt([hashToText(ASK.cid), hashToText(TARGET)], hashToText(shaky.id))
        ?.broken,
      1,
    );
  });
  await t.step("a module whose accepted reply fails the promise's verify", async () => {
    const liar = testModule("liar", (p) => accept((p[2] as number) * 3));
    const honest = testModule("honest", (p) => accept((p[2] as number) * 2));
    const kernel = newKernel([liar, honest]);
    const ask = (n: number) => kernel.call([DOUBLE.cid, TARGET, n]);
    assertEquals(await ask(1), accept(2), "the lie was caught and the next module asked");
    assertEquals(await ask(5), accept(10));
    assertEquals(await ask(7), accept(14));
    assertEquals(liar.calls, 1, "the liar is tried last from now on");
  });
  await t.step("a demoted module is still a last resort", async () => {
    const shaky = testModule("shaky", () => {
      throw new Error("again");
    });
    const kernel = newKernel([shaky]);
    const reply = await kernel.call(msg(1));
    assertEquals(rejectReason(reply), { code: "internal", reason: "again" });
    await kernel.call(msg(2));
    assertEquals(shaky.calls, 2);
  });
  await t.step("a reply that is neither accept nor reject counts as broken", async () => {
    const odd = testModule("odd", () => [hashText("something else")] as Parms);
    const good = testModule("good", yes("good"));
    const kernel = newKernel([odd, good]);
    assertEquals(await kernel.call(msg(1)), accept("good"));
    assertEquals(await kernel.call(msg(2)), accept("good"));
    assertEquals(odd.calls, 1);
  });
});

Deno.test("Kernel.call() rejects an unaccepted promise with not-accepted and calls no module", async () => {
  const m = testModule("m", yes("m"));
  const kernel = newKernel([m], [ASK]);
  const stranger = hashText("a promise this node never made");
  const reply = await kernel.call([stranger, TARGET, "x"]);
  assert(isReject(reply));
  assertEquals(rejectReason(reply).code, "not-accepted");
  assert(rejectReason(reply).reason.includes(hashToText(stranger)));
  assertEquals(m.calls, 0);
  assertEquals(kernel.tree.size, 0, "nothing was learned from a refused message");
  // Renouncing a promise takes effect at once.
  kernel.renouncePromise(ASK.cid);
  assertEquals(rejectReason(await kernel.call(msg("x"))).code, "not-accepted");
  assertEquals(m.calls, 0);
});

Deno.test("Kernel.call() turns malformed requests into rejects, never throws", async (t) => {
  const m = testModule("m", yes("m"));
  const kernel = newKernel([m]);
  const cases: [string, unknown, string][] = [
    ["not an array", "hello", "codec"],
    ["slot 0 a string", ["x", TARGET], "codec"],
    ["slot 0 a CID look-alike", [{ "/": "a", bytes: "a", code: 85, version: 1 }, TARGET], "codec"],
    ["no module hash", [ASK.cid], "codec"],
    ["slot 1 a string", [ASK.cid, "x"], "codec"],
    ["an argument that cannot be keyed", [ASK.cid, TARGET, "\uD800"], "cache-key"],
  ];
  for (const [name, parms, code] of cases) {
    await t.step(name, async () => {
      const reply = await kernel.call(parms as Parms);
      assertEquals(rejectReason(reply).code, code);
    });
  }
  await t.step("over the hop limit", async () => {
    assertEquals(rejectReason(await kernel.call(msg(), { hops: MAX_HOPS + 1 })).code, "route");
  });
  await t.step("a verify hook that throws fails the check instead of the call", async () => {
    const shaky = definePromise({
      text: "test/shaky-verify",
      verify: () => {
        throw new Error("boom");
      },
    });
    const k = newKernel([testModule("m", yes("m"))], [shaky]);
    assertEquals(rejectReason(await k.call([shaky.cid, TARGET])).code, "route");
  });
  assertEquals(m.calls, 0);
});

Deno.test("Kernel.call() writes a cacheable answer back into a cache that missed", async () => {
  // The cache is consulted first (registered first); the computer answers.
  const memory = new Map<number, number>();
  const cache = testModule("cache", (p) => {
    const hit = memory.get(p[2] as number);
    return hit === undefined ? no() : accept(hit);
  }, { store: true });
  cache.store = (parms, payload) => {
    cache.stored.push(payload);
    memory.set(parms[2] as number, payload[0] as number);
    return Promise.resolve();
  };
  const computer = testModule("computer", (p) => accept((p[2] as number) * 2), {
    id: TARGET,
    scope: "own",
  });
  const kernel = newKernel([cache, computer]);
  const computed = await kernel.call([DOUBLE.cid, TARGET, 21]);
  assertEquals(cache.stored, [[42]]);
  const cached = await kernel.call([DOUBLE.cid, TARGET, 21]);
  assertEquals(computer.calls, 1, "the second answer came from the cache");
  assertEquals(cache.calls, 2);
  // The caller cannot tell a cache hit from a computed answer.
  assertEquals(cached, computed);
  assertEquals(cached, accept(42));
  // A non-cacheable promise is never written back.
  await kernel.call([ASK.cid, TARGET, 1]);
  assertEquals(cache.stored.length, 1);
});

Deno.test("Kernel.call() writes verified content from a peer-like module into the CAS", async () => {
  const cas = new Cas(new MemoryStorage());
  const data = new TextEncoder().encode("from far away");
  const cid = hashBytes(data);
  const peer = testModule("peer", (p) => CID.asCID(p[2])?.equals(cid) ? accept(data) : no());
  const kernel = new Kernel({ promises: [GET_PROMISE], modules: [casModule(cas), peer] });
  assertEquals(await kernel.call(getMessage(cid)), accept(data));
  assertEquals(await cas.get(cid), data, "written back after verification");
  assertEquals(await kernel.call([GET_PROMISE.cid, CAS_MODULE, cid]), accept(data));
  assertEquals(peer.calls, 1, "the second get was answered locally");
});

Deno.test("Kernel.call() does not write back an answer that fails verification", async () => {
  const cas = new Cas(new MemoryStorage());
  const cid = hashText("the real thing");
  const forger = testModule("forger", () => accept(new TextEncoder().encode("a forgery")));
  const kernel = new Kernel({ promises: [GET_PROMISE], modules: [casModule(cas), forger] });
  assert(isReject(await kernel.call(getMessage(cid))));
  assertEquals(await cas.list(), []);
});

Deno.test("Kernel.call() consults only modules that match the module hash, plus any-scope ones", async () => {
  const target = testModule("target", yes("target"), { id: TARGET, scope: "own" });
  const other = testModule("other", yes("other"), { scope: "own" });
  const kernel = newKernel([other, target]);
  assertEquals(await kernel.call(msg()), accept("target"));
  assertEquals(other.calls, 0);
  assertEquals(rejectReason(await kernel.call([ASK.cid, hashText("nobody")])).code, "route");
});

Deno.test("Kernel.call() gives modules a ctx.call with the same governance", async () => {
  const inner = testModule("inner", yes("inner"), { id: hashText("inner"), scope: "own" });
  const outer = testModule("outer", async (_p, ctx) => {
    const allowed = await ctx.call([ASK.cid, inner.id]);
    const refused = await ctx.call([hashText("unknown promise"), inner.id]);
    return accept(allowed[1], rejectReason(refused).code);
  }, { id: TARGET, scope: "own" });
  const kernel = newKernel([inner, outer]);
  assertEquals(await kernel.call(msg()), accept("inner", "not-accepted"));
});

Deno.test("a nested ctx.call keeps the caller's origin: a peer's request cannot become local", async () => {
  const seen: string[] = [];
  const inner = testModule("inner", (_p, ctx) => {
    seen.push(ctx.origin);
    return ctx.origin === "local" ? accept("local secrets") : reject("denied", "local only");
  }, { id: hashText("inner"), scope: "own" });
  const relay = testModule("relay", async (_p, ctx) => {
    const reply = await ctx.call([ASK.cid, inner.id]);
    return isAccept(reply) ? reply : reject("denied", rejectReason(reply).reason);
  }, { id: TARGET, scope: "own" });
  const kernel = newKernel([inner, relay]);
  assertEquals(rejectReason(await kernel.call(msg(), { origin: "peer:someone" })).code, "denied");
  assertEquals(await kernel.call(msg()), accept("local secrets"));
  assertEquals(seen, ["peer:someone", "local"]);
});

Deno.test("a put over the CAS size limit is a reject, and does not demote the store", async () => {
  const cas = new Cas(new MemoryStorage(), "cas", { maxBlob: 4 });
  const kernel = new Kernel({ promises: [PUT_PROMISE], modules: [casModule(cas)] });
  const reply = await kernel.call(putMessage(new Uint8Array(5)));
  assertEquals(rejectReason(reply).code, "cas");
  const outcome = kernel.tree.outcomeAt(
    [hashToText(PUT_PROMISE.cid), hashToText(CAS_MODULE)],
    hashToText(CAS_MODULE),
  );
  assertEquals(outcome?.broken ?? 0, 0);
  assert(isAccept(await kernel.call(putMessage(new Uint8Array(4)))));
});

Deno.test("a large byte string ends the routing key instead of being hashed to route it", async () => {
  const cas = new Cas(new MemoryStorage());
  const kernel = new Kernel({ promises: [PUT_PROMISE], modules: [casModule(cas)] });
  assert(isAccept(await kernel.call(putMessage(new Uint8Array(1 << 20)))));
  assert(isAccept(await kernel.call(putMessage(new Uint8Array(8)))));
  const depths = kernel.tree.entries().map((e) => e.prefix.length).sort();
  assertEquals(depths, [2, 3], "the 1 MiB put is routed on (promise, module) only");
});

Deno.test("Kernel.call() consults each module at most once per call", async () => {
  const skippedOne = testModule("skipped-one", no);
  const fresh = testModule("fresh", no);
  const kernel = newKernel([skippedOne, fresh]);
  await kernel.call(msg("k"), { exclude: new Set([hashToText(fresh.id)]) });
  assertEquals(skippedOne.calls, 1);
  // skipped-one is now a recorded rejecter at "k"; fresh is untried and rejects.
  assertEquals(rejectReason(await kernel.call(msg("k"))).code, "not-found");
  assertEquals(
    fresh.calls,
    1,
    "fresh, newly recorded as a rejecter, is not asked again as a last resort",
  );
  assertEquals(skippedOne.calls, 2, "the earlier rejecter is asked once, as the last resort");
});
