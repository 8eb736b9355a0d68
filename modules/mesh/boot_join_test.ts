import { assert, assertEquals, assertThrows } from "../../kernel/_testing_assert.ts";
import { ConfigError } from "../../kernel/mod.ts";
import { JoinUnreachable, MembershipError } from "../membership/mod.ts";
import {
  BOOT_RETRY,
  joinNetsAtBoot,
  MAX_NET_FILE_BYTES,
  type NetFile,
  parseNetFile,
  readNetsDir,
  retriable,
} from "./boot_join.ts";
import type { JoinRequest, JoinResult } from "./protocol.ts";

const TOKEN = "grid2.AAAAbbbbCCCC";

Deno.test("parseNetFile: a token alone, or KEY = VALUE lines with comments", () => {
  assertEquals(parseNetFile("/d/web.invite", "web", `${TOKEN}\n`).request, {
    name: "web",
    invite: TOKEN,
    nodeName: undefined,
    interface: undefined,
    listenPort: undefined,
    endpoint: undefined,
  });
  const text = [
    "# provisioned by cloud-init",
    `invite = ${TOKEN}`,
    "name = web-3   # this node",
    "interface=wg7",
    "listen-port = 51821",
    "endpoint = 203.0.113.5:51821",
    "",
  ].join("\n");
  assertEquals(parseNetFile("/d/web.invite", "web", text).request, {
    name: "web",
    invite: TOKEN,
    nodeName: "web-3",
    interface: "wg7",
    listenPort: 51821,
    endpoint: "203.0.113.5:51821",
  });
});

Deno.test("parseNetFile: bad files are one line naming the file and the line", () => {
  const cases: [string, RegExp][] = [
    ["", /no invite/],
    ["# only a comment\n", /no invite/],
    [`invite = ${TOKEN}\nport = 1\n`, /\/d\/x\.invite:2: expected an invite token alone/],
    [`invite = ${TOKEN}\ninvite = ${TOKEN}\n`, /:2: "invite" given twice/],
    [`invite = ${TOKEN}\nname =\n`, /:2: expected/],
    ["invite = hello\n", /not a grid invite token/],
    [`${TOKEN}\n${TOKEN}\n`, /:1: expected/],
    [`invite = ${TOKEN}\nlisten-port = 70000\n`, /not a UDP port/],
    [`invite = ${TOKEN}\nlisten-port = 1e3\n`, /not a UDP port/],
  ];
  for (const [text, want] of cases) {
    const err = assertThrows(() => parseNetFile("/d/x.invite", "x", text), ConfigError);
    assert(want.test(err.message), `${JSON.stringify(text)}: ${err.message}`);
    assert(!err.message.includes("\n"), err.message);
  }
});

Deno.test("readNetsDir: reads NET.invite files the agent's user alone can read; refuses the rest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await readNetsDir(`${dir}/missing`, Deno.uid()!), { files: [], problems: [] });
    const write = (name: string, text: string, mode = 0o600) =>
      Deno.writeTextFile(`${dir}/${name}`, text, { mode }).then(() =>
        Deno.chmod(`${dir}/${name}`, mode)
      );
    await write("b.invite", `${TOKEN}\n`);
    await write("a.invite", `invite = ${TOKEN}\nname = n1\n`);
    await write("open.invite", `${TOKEN}\n`, 0o644);
    await write("group.invite", `${TOKEN}\n`, 0o640);
    await write("big.invite", `# ${"x".repeat(MAX_NET_FILE_BYTES)}\n${TOKEN}\n`);
    await write("notes.txt", "not a nets file", 0o644);
    await write("bad.invite", "invite = nope\n");
    await Deno.mkdir(`${dir}/dir.invite`, { mode: 0o700 });
    const found = await readNetsDir(dir, Deno.uid()!);
    assertEquals(found.files.map((f) => f.request.name), ["a", "b"]);
    assertEquals(found.files[0].request.nodeName, "n1");
    const why = new Map(found.problems.map((p) => [p.path.slice(dir.length + 1), p.why]));
    assertEquals([...why.keys()].sort(), [
      "bad.invite",
      "big.invite",
      "dir.invite",
      "group.invite",
      "open.invite",
    ]);
    assert(why.get("open.invite")!.includes("chmod 600"), why.get("open.invite"));
    assert(why.get("group.invite")!.includes("mode 640"), why.get("group.invite"));
    assert(why.get("big.invite")!.includes("larger than"), why.get("big.invite"));
    assert(why.get("dir.invite")!.includes("not a regular file"), why.get("dir.invite"));
    // A file of another user (not root) is refused even at 0600.
    const other = await readNetsDir(dir, Deno.uid()! + 4242);
    const mine = Deno.uid() === 0 ? [] : ["a.invite", "b.invite"];
    for (const name of mine) {
      assert(
        other.problems.some((p) => p.path.endsWith(name) && p.why.includes("belongs to uid")),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("retriable: only a join that reached no member is tried again", () => {
  assert(retriable(new JoinUnreachable("Cannot join: no member answered")));
  assert(retriable(new TypeError("fetch failed")));
  assert(!retriable(new MembershipError("This node was revoked from net x")));
  assert(!retriable(new ConfigError("bad invite")));
});

/** A fake join: answers from `script` in turn, recording each call and the waits between. */
function fakeDeps(script: Record<string, (() => JoinResult | Error)[]>) {
  const calls: string[] = [];
  const waits: number[] = [];
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const abort = new AbortController();
  return {
    calls,
    waits,
    logs,
    abort,
    deps: {
      join: (request: JoinRequest): Promise<JoinResult> => {
        calls.push(request.name);
        const next = script[request.name].shift();
        if (!next) throw new Error(`unexpected join of ${request.name}`);
        const result = next();
        return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
      },
      log: (_level: string, event: string, fields: Record<string, unknown> = {}) =>
        logs.push({ event, fields }),
      signal: abort.signal,
      sleep: (ms: number) => {
        waits.push(ms);
        return Promise.resolve();
      },
      random: () => 0.5,
    },
  };
}

const ok = (address: string, already = false): () => JoinResult => () =>
  ({ address, already }) as unknown as JoinResult;
const file = (name: string): NetFile => ({
  path: `/d/${name}.invite`,
  request: { name, invite: TOKEN },
});

Deno.test("joinNetsAtBoot: retries an unreachable net with doubling waits, gives up on a refusal", async () => {
  const unreachable = () => new JoinUnreachable("Cannot join: nobody answered");
  const t = fakeDeps({
    web: [unreachable, unreachable, unreachable, ok("10.0.0.7")],
    db: [() => new MembershipError("the invite was used up")],
    ops: [ok("10.9.0.2", true)],
  });
  await joinNetsAtBoot([file("web"), file("db"), file("ops")], t.deps);
  assertEquals(t.calls, ["web", "db", "ops", "web", "web", "web"]);
  // random() = 0.5: each wait is the nominal one (0.75 + 0.5 × 0.5 = 1).
  assertEquals(t.waits, [BOOT_RETRY.firstMs, BOOT_RETRY.firstMs * 2, BOOT_RETRY.firstMs * 4]);
  const events = t.logs.map((l) => `${l.event}:${l.fields.net}`);
  assertEquals(events.filter((e) => e.startsWith("boot-join-failed")), ["boot-join-failed:db"]);
  assertEquals(events.filter((e) => e === "boot-join:web" || e === "boot-join:ops").length, 2);
  assertEquals(events.filter((e) => e === "boot-join-retry:web").length, 3);
});

Deno.test("joinNetsAtBoot: waits never pass the maximum, and an abort stops the retries", async () => {
  const unreachable = () => new JoinUnreachable("Cannot join: nobody answered");
  const t = fakeDeps({ web: Array.from({ length: 12 }, () => unreachable) });
  let joins = 0;
  const join = t.deps.join;
  t.deps.join = (request: JoinRequest) => {
    if (++joins === 10) t.abort.abort();
    return join(request);
  };
  await joinNetsAtBoot([file("web")], t.deps);
  assertEquals(joins, 10);
  assertEquals(Math.max(...t.waits), BOOT_RETRY.maxMs);
  assertEquals(t.waits.length, 9);
});

Deno.test("joinNetsAtBoot: jitter spreads a fleet's retries around the nominal wait", async () => {
  for (const [r, want] of [[0, 750], [0.999, 1250]] as const) {
    const t = fakeDeps({
      web: [() => new JoinUnreachable("Cannot join"), ok("10.0.0.1")],
    });
    t.deps.random = () => r;
    await joinNetsAtBoot([file("web")], t.deps);
    assertEquals(t.waits, [want]);
  }
});
