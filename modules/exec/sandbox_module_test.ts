import { assert, assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import {
  accept,
  ACCEPT_DEPTH,
  Cas,
  casModule,
  definePromise,
  ExecError,
  GET_PROMISE,
  hashBytes,
  hashText,
  hashToText,
  isAccept,
  keyComponent,
  MemoryStorage,
  type Module,
  reject,
  rejectReason,
  type SymbolEntry,
} from "../../kernel/mod.ts";
import { installModule, sandboxModule } from "./sandbox_module.ts";
import { WorkerExecutor } from "./worker_executor.ts";
import { testHost, text, utf8 } from "./_testing_exec.ts";

const SRC = utf8(
  `export function main(grid) { grid.write("ran " + grid.args.join(",")); return 5; }`,
);
const PROMISE_TEXT = "test: I ask the module to run";

function entryFor(bytes: Uint8Array, extra: Partial<SymbolEntry> = {}): SymbolEntry {
  return {
    module: hashBytes(bytes),
    promise: hashText(PROMISE_TEXT),
    promiseText: PROMISE_TEXT,
    kind: "js",
    ...extra,
  };
}

Deno.test("a module by hash is a kernel module: fetched, run, and its accept recorded", async () => {
  const host = testHost();
  await host.cas.put(SRC);
  const entry = entryFor(SRC);
  installModule(host.kernel, "m", entry, { executors: [new WorkerExecutor()] });
  const reply = await host.kernel.call([entry.promise, entry.module, "a", "b"]);
  assert(isAccept(reply), JSON.stringify(rejectReason(reply)));
  assertEquals(reply[1], 5);
  assertEquals(text(reply[2] as Uint8Array), "ran a,b");
  const prefix = [entry.promise, entry.module].map(keyComponent).slice(0, ACCEPT_DEPTH);
  const recorded = host.kernel.tree.entries().find((e) =>
    e.module === hashToText(entry.module) && e.last === "accept"
  );
  assert(recorded, "the accept is in the syscall tree");
  assertEquals(recorded.prefix.slice(0, 2), prefix);
});

Deno.test("a module rejects promises it does not declare, and the tree records the reject", async () => {
  const host = testHost();
  await host.cas.put(SRC);
  const entry = entryFor(SRC);
  installModule(host.kernel, "m", entry, { executors: [new WorkerExecutor()] });
  const reply = await host.kernel.call([GET_PROMISE.cid, entry.module, "x"]);
  assertEquals(rejectReason(reply).code, "not-accepted");
  const rejects = host.kernel.tree.entries().filter((e) =>
    e.module === hashToText(entry.module) && e.last === "reject"
  );
  assertEquals(rejects.length, 1);

  const other = definePromise({ text: "test: another promise the module declares" });
  host.kernel.acceptPromise(other);
  const entry2 = entryFor(SRC, { accepts: [hashText(PROMISE_TEXT), other.cid] });
  const m2: Module = sandboxModule("m2", entry2, { executors: [new WorkerExecutor()] });
  host.kernel.register(m2);
  assert(isAccept(await host.kernel.call([other.cid, entry2.module])));
});

Deno.test("a module runs only for this node's own user", async () => {
  const host = testHost();
  await host.cas.put(SRC);
  const entry = entryFor(SRC);
  installModule(host.kernel, "m", entry, { executors: [new WorkerExecutor()] });
  const reply = await host.kernel.call([entry.promise, entry.module], { origin: "peer:x" });
  assertEquals(rejectReason(reply).code, "denied");
});

Deno.test("a missing module is a clear not-found; a lying source never runs", async () => {
  const host = testHost();
  const entry = entryFor(SRC);
  installModule(host.kernel, "gone", entry, {
    executors: [new WorkerExecutor()],
    droppedCount: () => host.cas.dropped,
  });
  const missing = await host.kernel.call([entry.promise, entry.module]);
  assertEquals(rejectReason(missing).code, "not-found");
  assert(rejectReason(missing).reason.includes(`Cannot fetch module "gone"`));

  let lies = 0;
  const liar: Module = {
    id: hashText("liar"),
    name: "liar",
    promise: "lies",
    scope: "any",
    accept: (parms) => {
      if (!GET_PROMISE.cid.equals(parms[0])) return reject("not-accepted", "gets only");
      lies++;
      return accept(utf8(`export function main(g) { g.write("EVIL"); }`));
    },
  };
  host.kernel.register(liar);
  const lied = await host.kernel.call([entry.promise, entry.module, "again"]);
  assertEquals(lies, 1, "the liar was asked");
  assert(!isAccept(lied), "the kernel's hash check stopped the liar's bytes");
  assert(!rejectReason(lied).reason.includes("EVIL"));
});

Deno.test("a stored copy that fails its hash is dropped and the refusal says so", async () => {
  const storage = new MemoryStorage();
  const host = { ...testHost(), cas: new Cas(storage) };
  host.kernel.register(casModule(host.cas));
  const entry = entryFor(SRC);
  await storage.write(`cas/${hashToText(entry.module)}`, utf8("tampered"));
  installModule(host.kernel, "bad", entry, {
    executors: [new WorkerExecutor()],
    droppedCount: () => host.cas.dropped,
  });
  const reply = await host.kernel.call([entry.promise, entry.module]);
  assertEquals(rejectReason(reply).code, "hash");
  assert(
    rejectReason(reply).reason.includes("does not match its hash"),
    rejectReason(reply).reason,
  );
  assertEquals(host.cas.dropped, 1);
});

Deno.test("an entry whose promise text does not hash to its promise is refused", () => {
  assertThrows(
    () =>
      sandboxModule("bad", entryFor(SRC, { promise: hashText("something else") }), {
        executors: [],
      }),
    ExecError,
    "inconsistent",
  );
});

Deno.test("a module's host calls reach the kernel as origin module:HASH, never as the local user", async () => {
  const host = testHost();
  const probe = definePromise({ text: "test: I ask who is calling" });
  host.kernel.acceptPromise(probe);
  const seen: string[] = [];
  const probeModule = hashText("test: origin probe");
  host.kernel.register({
    id: probeModule,
    name: "probe",
    promise: probe.text,
    accept: (_parms, ctx) => {
      seen.push(ctx.origin);
      return accept(ctx.origin);
    },
  });
  const src = utf8(`export async function main(grid) {
    const r = await grid.call([grid.hash(${JSON.stringify(hashToText(probe.cid))}), grid.hash(${
    JSON.stringify(hashToText(probeModule))
  })]);
    grid.write(r[1]);
  }`);
  await host.cas.put(src);
  const entry = entryFor(src, { grant: [[probe.cid, probeModule]] });
  installModule(host.kernel, "asker", entry, { executors: [new WorkerExecutor()] });
  const reply = await host.kernel.call([entry.promise, entry.module]);
  assert(isAccept(reply), JSON.stringify(rejectReason(reply)));
  assertEquals(seen, [`module:${hashToText(entry.module)}`]);
  assertEquals(text(reply[2] as Uint8Array), `module:${hashToText(entry.module)}`);
});
