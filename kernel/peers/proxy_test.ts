import { assert, assertEquals } from "../_testing_assert.ts";
import { accept, isAccept, rejectReason } from "../promises.ts";
import { Cas } from "../cas.ts";
import { casModule, GET_PROMISE, getMessage, PUT_PROMISE } from "../cas_module.ts";
import { generateIdentity } from "../identity.ts";
import { hashBytes } from "../hash.ts";
import { Kernel } from "../kernel.ts";
import type { Logger } from "../service.ts";
import { MemoryStorage } from "../storage.ts";
import type { Parms } from "../codec.ts";
import { PeerHub } from "./hub.ts";
import {
  LookupLedger,
  missReason,
  PEER_PROXY_MODULE,
  peerBlobModule,
  peerModuleName,
  peerProxyModule,
  type PeerProxyOptions,
  RANGE_PROMISE,
  rangeMessage,
} from "./proxy.ts";

const CHUNK = 1000;

interface TestNode {
  kernel: Kernel;
  cas: Cas;
  hub: PeerHub;
  url: string;
  events: string[];
}

async function node(proxy: Partial<PeerProxyOptions> = {}): Promise<TestNode> {
  const cas = new Cas(new MemoryStorage());
  const kernel = new Kernel({ promises: [GET_PROMISE, PUT_PROMISE, RANGE_PROMISE] });
  const events: string[] = [];
  const log: Logger = (_level, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`);
  const hub = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms, ctx) => kernel.call(parms, ctx),
    backoff: { minMs: 20, maxMs: 100 },
  });
  const ledger = new LookupLedger();
  kernel.register(casModule(cas));
  kernel.register(peerBlobModule({ chunkBytes: CHUNK, ledger, log }));
  kernel.register(
    peerProxyModule({ kernel, peers: hub, chunkBytes: CHUNK, ledger, log, ...proxy }),
  );
  const { url } = await hub.listen("127.0.0.1", 0);
  return { kernel, cas, hub, url, events };
}

/** Dials `to` from `from` and waits until both ends see the link (each side registers it on its own). */
async function connect(from: TestNode, to: TestNode): Promise<void> {
  from.hub.dial(to.url);
  const sees = (n: TestNode, id: string) => n.hub.connected().some((p) => p.id === id);
  const end = Date.now() + 5000;
  while (!sees(from, to.hub.selfId) || !sees(to, from.hub.selfId)) {
    if (Date.now() > end) throw new Error("no link");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.hub.close()));
}

Deno.test("a get travels A <- B <- C in slices, is verified, and is cached on the way", async () => {
  const [a, b, c] = [await node(), await node(), await node()];
  try {
    await connect(b, a);
    await connect(c, b);
    const bytes = crypto.getRandomValues(new Uint8Array(CHUNK * 7 + 3));
    const cid = await a.cas.put(bytes);
    const reply = await c.kernel.call(getMessage(cid));
    assert(isAccept(reply), rejectReason(reply).reason);
    assertEquals(reply[1], bytes);
    assertEquals(await c.cas.get(cid), bytes);
    assertEquals(await b.cas.get(cid), bytes);
    // The second get is the store's: nothing more is fetched.
    const fetched = c.events.filter((e) => e.startsWith("peer-fetched")).length;
    assert(isAccept(await c.kernel.call(getMessage(cid))));
    assertEquals(c.events.filter((e) => e.startsWith("peer-fetched")).length, fetched);
    assertEquals(fetched, 1);
  } finally {
    await closeAll([a, b, c]);
  }
});

Deno.test("a lookup for missing content in a triangle ends with not-found, refusing the loop", async () => {
  const [a, b, c] = [await node(), await node(), await node()];
  try {
    await connect(a, b);
    await connect(b, c);
    await connect(c, a);
    const missing = hashBytes(new TextEncoder().encode("nobody has this"));
    const start = Date.now();
    const reply = await a.kernel.call(getMessage(missing));
    assertEquals(rejectReason(reply).code, "not-found");
    // One clear line: the remotes' own misses are not nested inside ours.
    assertEquals(rejectReason(reply).reason, "no peer has it (asked 2)");
    assert(Date.now() - start < 3000, "lookup took too long");
    const refused = [a, b, c].flatMap((n) => n.events).filter((e) =>
      e.startsWith("peer-loop-refused")
    );
    assert(refused.length > 0, "no node refused the looping lookup");
  } finally {
    await closeAll([a, b, c]);
  }
});

Deno.test("a peer answering with wrong bytes is scored down, recorded broken, and the next peer asked", async () => {
  const [honest, asker] = [await node(), await node()];
  const bytes = crypto.getRandomValues(new Uint8Array(CHUNK * 3));
  const liar = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms: Parms) => {
      const fake = bytes.slice(parms[3] as number, (parms[3] as number) + CHUNK);
      fake[0] ^= 1;
      return Promise.resolve(accept(bytes.length, fake));
    },
  });
  const liarUrl = (await liar.listen("127.0.0.1", 0)).url;
  try {
    const cid = await honest.cas.put(bytes);
    asker.hub.dial(liarUrl);
    while (asker.hub.connected().length === 0) await new Promise((r) => setTimeout(r, 10));
    await connect(asker, honest);
    const reply = await asker.kernel.call(getMessage(cid));
    assert(isAccept(reply), rejectReason(reply).reason);
    assertEquals(reply[1], bytes);
    assert(asker.hub.score(liar.selfId) < 0);
    assertEquals(asker.hub.score(honest.hub.selfId), 1);
    const outcome = asker.kernel.tree.entries().find((e) =>
      e.module === peerModuleName(liar.selfId) && e.prefix.length === 3
    );
    assert(outcome && outcome.broken === 1, "syscall tree does not know the broken promise");
  } finally {
    await liar.close();
    await closeAll([honest, asker]);
  }
});

Deno.test("the proxy forwards only gets, and never back to the peer that asked", async () => {
  const [a, b] = [await node(), await node()];
  try {
    await connect(a, b);
    const proxy = a.kernel.module(PEER_PROXY_MODULE)!;
    const ctx = { origin: "local", hops: 0, call: a.kernel.call.bind(a.kernel) };
    const put = await proxy.accept([PUT_PROMISE.cid, PEER_PROXY_MODULE, new Uint8Array([1])], ctx);
    assertEquals(rejectReason(put).code, "not-accepted");
    // b misses and asks a; a misses too and must not ask b back.
    const missing = hashBytes(new TextEncoder().encode("missing"));
    const reply = await b.kernel.call(getMessage(missing));
    assertEquals(rejectReason(reply).code, "not-found");
    assert(!a.events.some((e) => e.startsWith("peer-fetch-start")), "a asked b back");
  } finally {
    await closeAll([a, b]);
  }
});

Deno.test("missReason() is one line that never repeats a remote's reason", () => {
  assertEquals(missReason(2, 0, []), "no peer has it (asked 2)");
  assertEquals(
    missReason(3, 1, ["peer did not reply", "x"]),
    "no peer has it (asked 3, 1 sent wrong bytes, 2 failed: peer did not reply)",
  );
});

/** A peer that claims `claimed` bytes for anything, sends the first slice, then `rest`. */
async function claimer(
  claimed: number,
  rest: "silence" | "junk",
): Promise<{ hub: PeerHub; url: string; asked: () => number }> {
  let asked = 0;
  const hub = new PeerHub({
    identity: await generateIdentity(),
    handler: (parms: Parms) => {
      asked++;
      const offset = parms[3] as number;
      if (offset > 0 && rest === "silence") return new Promise(() => {});
      const n = Math.min(CHUNK, claimed - offset);
      return Promise.resolve(accept(claimed, crypto.getRandomValues(new Uint8Array(n))));
    },
  });
  const { url } = await hub.listen("127.0.0.1", 0);
  return { hub, url, asked: () => asked };
}

Deno.test("a peer claiming a huge length cannot make the proxy allocate it; the node stays responsive", async () => {
  const liar = await claimer(200 * 1024 * 1024, "silence");
  const asker = await node({ requestTimeoutMs: 1_000 });
  const honest = await node();
  try {
    asker.hub.dial(liar.url);
    while (asker.hub.connected().length === 0) await new Promise((r) => setTimeout(r, 10));
    const before = Deno.memoryUsage().external;
    const lookups = Array.from(
      { length: 4 },
      (_, i) => asker.kernel.call(getMessage(hashBytes(new TextEncoder().encode(`claimed ${i}`)))),
    );
    await new Promise((r) => setTimeout(r, 300)); // the first slices are in; the rest never come
    const grown = Deno.memoryUsage().external - before;
    assert(grown < 32 * 1024 * 1024, `the claimed lengths were allocated: +${grown} bytes`);
    // Meanwhile the node answers others.
    const bytes = crypto.getRandomValues(new Uint8Array(CHUNK * 3));
    const cid = await honest.cas.put(bytes);
    await connect(asker, honest);
    const reply = await asker.kernel.call(getMessage(cid));
    assert(isAccept(reply), rejectReason(reply).reason);
    assertEquals(reply[1], bytes);
    for (const r of await Promise.all(lookups)) {
      assertEquals(rejectReason(r).code, "not-found");
      assert(/1 failed: .*did not reply/.test(rejectReason(r).reason), rejectReason(r).reason);
    }
  } finally {
    await liar.hub.close();
    await closeAll([asker, honest]);
  }
});

Deno.test("a peer sending junk slices is cut off at its byte budget, not at its claimed length", async () => {
  const liar = await claimer(1000 * CHUNK, "junk");
  const asker = await node({ maxPeerBytes: 8 * CHUNK });
  try {
    asker.hub.dial(liar.url);
    while (asker.hub.connected().length === 0) await new Promise((r) => setTimeout(r, 10));
    const reply = await asker.kernel.call(getMessage(hashBytes(new Uint8Array([1]))));
    assert(/over its byte budget/.test(rejectReason(reply).reason), rejectReason(reply).reason);
    assert(liar.asked() < 20, `asked ${liar.asked()} slices of a peer over budget`);
    // The proxy's own total is a cap too, whatever each peer's budget.
    const capped = await node({ maxTotalBytes: 8 * CHUNK });
    try {
      capped.hub.dial(liar.url);
      while (capped.hub.connected().length === 0) await new Promise((r) => setTimeout(r, 10));
      const full = await capped.kernel.call(getMessage(hashBytes(new Uint8Array([3]))));
      assert(
        /holding all the bytes it may/.test(rejectReason(full).reason),
        rejectReason(full).reason,
      );
    } finally {
      await closeAll([capped]);
    }
    // A length over the blob limit is refused before any slice is fetched.
    const small = await node({ maxBlobBytes: 100 * CHUNK });
    try {
      small.hub.dial(liar.url);
      while (small.hub.connected().length === 0) await new Promise((r) => setTimeout(r, 10));
      const over = await small.kernel.call(getMessage(hashBytes(new Uint8Array([2]))));
      assert(/over the limit/.test(rejectReason(over).reason), rejectReason(over).reason);
    } finally {
      await closeAll([small]);
    }
  } finally {
    await liar.hub.close();
    await closeAll([asker]);
  }
});

Deno.test("one requesting peer gets only so many proxy lookups at once", async () => {
  const silent = await claimer(100 * CHUNK, "silence");
  const middle = await node({ maxLookupsPerPeer: 2, requestTimeoutMs: 1_000 });
  const stranger = new PeerHub({
    identity: await generateIdentity(),
    handler: () => new Promise(() => {}),
  });
  try {
    middle.hub.dial(silent.url);
    stranger.dial(middle.url);
    while (middle.hub.connected().length < 2) await new Promise((r) => setTimeout(r, 10));
    const asks = Array.from({ length: 5 }, (_, i) =>
      stranger.request(
        middle.hub.selfId,
        rangeMessage(
          hashBytes(new TextEncoder().encode(`x${i}`)),
          0,
          CHUNK,
          crypto.getRandomValues(new Uint8Array(16)),
        ),
      ));
    const replies = await Promise.all(asks);
    const refused = replies.filter((r) =>
      /Too many lookups in flight/.test(rejectReason(r).reason)
    );
    assertEquals(refused.length, 3);
  } finally {
    await stranger.close();
    await silent.hub.close();
    await closeAll([middle]);
  }
});

Deno.test("a get that arrives at the hop limit is refused with route and no peer is asked", async (t) => {
  const [a, b] = [await node({ maxHops: 3 }), await node()];
  try {
    await connect(a, b);
    const proxy = a.kernel.module(PEER_PROXY_MODULE)!;
    const missing = hashBytes(new TextEncoder().encode("missing at the limit"));
    const rows: [string, number, string, boolean][] = [
      ["one hop left: asks the peer", 2, "not-found", true],
      ["at the limit: refused, nobody asked", 3, "route", false],
    ];
    for (const [name, hops, code, asked] of rows) {
      await t.step(name, async () => {
        a.events.length = 0;
        const ctx = { origin: "local", hops, call: a.kernel.call.bind(a.kernel) };
        const reply = await proxy.accept(getMessage(missing), ctx);
        assertEquals(rejectReason(reply).code, code);
        assertEquals(a.events.some((e) => e.startsWith("peer-fetch-start")), asked);
      });
    }
  } finally {
    await closeAll([a, b]);
  }
});
