/**
 * Modules by hash, end to end, with real `grid` subprocesses (release
 * permission flags) and real agents: publish on A, adopt and run on C
 * through B; hash mismatches refused; the JS sandbox; native modules gated
 * by `grid allow`.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { encodeMessage, getMessage, hashBytes, hashToText } from "../kernel/mod.ts";
import { callerModule } from "../modules/exec/mod.ts";
import {
  type AgentProcess,
  makeHome,
  releaseFlags,
  removeHome,
  runGrid,
  startAgent,
  TEST_ENV,
} from "./lab/agents.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs grid with the release flags, `--allow-run` widened to any program. */
async function runGridAllowRun(home: string, args: string[]) {
  const flags = (await releaseFlags()).map((f) => f.startsWith("--allow-run") ? "--allow-run" : f);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, MAIN, ...args],
    env: { ...TEST_ENV, GRID_HOME: home },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function writeTemp(dir: string, name: string, data: string | Uint8Array): Promise<string> {
  const path = `${dir}/${name}`;
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
  return path;
}

function field(text: string, key: string): string {
  const m = new RegExp(`^${key}\\s+(\\S+)$`, "m").exec(text);
  if (!m) throw new Error(`No "${key}" line in: ${text}`);
  return m[1];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Every path under `root` with its size, for "nothing changed" checks. */
async function snapshot(root: string, at = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/${at}`)) {
    const rel = at ? `${at}/${e.name}` : e.name;
    const info = await Deno.lstat(`${root}/${rel}`);
    out.push(`${rel}:${info.size}`);
    if (e.isDirectory) out.push(...await snapshot(root, rel));
  }
  return out.sort();
}

const HELLO_JS = `export async function main(grid) {
  grid.write("hello " + grid.args.join(" ") + " from a module by hash\\n");
  return 0;
}
`;
const HELLO_PROMISE = "I ask to be greeted by name, and I promise to greet back kindly.";

Deno.test("a module published on A runs on C through B, although C never had it", async () => {
  const homes = [await makeHome(), await makeHome(), await makeHome()];
  const [a, b, c] = homes;
  const agents: AgentProcess[] = [];
  try {
    agents.push(await startAgent(a));
    assertEquals((await runGrid(b, ["peers", "add", agents[0].url])).code, 0);
    agents.push(await startAgent(b));
    assertEquals((await runGrid(c, ["peers", "add", agents[1].url])).code, 0);
    agents.push(await startAgent(c));
    await agents[0].waitForLog(/peer-up/);
    await agents[2].waitForLog(/peer-up/);

    // On A: a JS module and a WebAssembly module, the second granted gets.
    const hello = await writeTemp(a, "hello.js", HELLO_JS);
    const pub = await runGrid(a, ["publish", hello, "--name", "hello", "--promise", HELLO_PROMISE]);
    assertEquals(pub.code, 0, pub.stderr);
    const helloHash = field(pub.text, "module");
    assertEquals(helloHash, hashToText(hashBytes(new TextEncoder().encode(HELLO_JS))));
    const content = new TextEncoder().encode("content only A has");
    const contentHash = hashBytes(content);
    await writeTemp(a, "content.txt", content);
    assertEquals((await runGrid(a, ["put", `${a}/content.txt`])).code, 0);
    const wasm = callerModule({
      greeting: "wasm says hi\n",
      messages: [encodeMessage(getMessage(contentHash))],
      exitCode: 0,
    });
    const wasmFile = await writeTemp(a, "fetcher.wasm", wasm);
    const pubWasm = await runGrid(a, ["publish", wasmFile, "--name", "fetcher", "--grant", "get"]);
    assertEquals(pubWasm.code, 0, pubWasm.stderr);
    const table = field(pubWasm.text, "symbols");

    // On C: nothing of either yet; adopt A's table by its hash.
    assertEquals(await exists(`${c}/cache/cas/${helloHash}`), false);
    assertEquals((await runGrid(c, ["hello"])).code, 3, "unknown name before adopting");
    const use = await runGrid(c, ["symbols", "use", table]);
    assertEquals(use.code, 0, use.stderr);
    assert(use.text.includes("adopted fetcher hello"), use.text);
    assertEquals(await exists(`${c}/cache/cas/${helloHash}`), false, "adopting fetched no module");

    const show = await runGrid(c, ["--show", "hello"]);
    assertEquals(show.text, HELLO_PROMISE + "\n");

    const ran = await runGrid(c, ["hello", "world"]);
    assertEquals(ran.code, 0, ran.stderr);
    assertEquals(ran.text, "hello world from a module by hash\n");
    assert(await exists(`${c}/cache/cas/${helloHash}`), "C kept the verified module");
    // It came over the peers: C's agent fetched it from B, B's from A.
    const fetched = (agent: AgentProcess, from: AgentProcess) =>
      new RegExp(`peer-fetched peer=${from.nodeId}.*${helloHash}`).test(agent.log()) ||
      new RegExp(`peer-fetched.*${helloHash}.*peer=${from.nodeId}`).test(agent.log());
    assert(fetched(agents[2], agents[1]), agents[2].log().slice(-3000));
    assert(fetched(agents[1], agents[0]), agents[1].log().slice(-3000));

    const ranWasm = await runGrid(c, ["fetcher"]);
    assertEquals(ranWasm.code, 0, ranWasm.stderr);
    const greeting = "wasm says hi\n";
    assertEquals(ranWasm.text.slice(0, greeting.length), greeting);
    assert(ranWasm.text.endsWith("content only A has"), ranWasm.text);

    const list = await runGrid(c, ["symbols", "--json"]);
    const names = JSON.parse(list.text).names as { name: string; kind: string }[];
    assertEquals(names.filter((n) => n.kind !== "builtin").map((n) => [n.name, n.kind]), [
      ["fetcher", "wasm"],
      ["hello", "js"],
    ]);
  } finally {
    await Promise.all(agents.map((x) => x.stop()));
    await Promise.all(homes.map(removeHome));
  }
});

Deno.test("a module whose stored bytes do not match its hash is refused and nothing of it runs", async () => {
  const home = await makeHome();
  try {
    const typed = await writeTemp(home, "typed.ts", "export const x: number = 1;\n");
    const refused = await runGrid(home, ["publish", typed, "--name", "typed"]);
    assertEquals(refused.code, 2);
    assert(refused.stderr.includes("deno bundle"), refused.stderr);
    const file = await writeTemp(home, "hello.js", HELLO_JS);
    const pub = await runGrid(home, ["publish", file, "--name", "hello"]);
    assertEquals(pub.code, 0, pub.stderr);
    const hash = field(pub.text, "module");
    await Deno.writeTextFile(
      `${home}/cache/cas/${hash}`,
      `export function main(grid) { grid.write("EVIL RAN\\n"); }`,
    );
    const ran = await runGrid(home, ["hello"]);
    assert(ran.code !== 0, "refused");
    assert(ran.stderr.includes("does not match its hash"), ran.stderr);
    assert(ran.stderr.includes(hash), ran.stderr);
    assertEquals(ran.text, "");
    assertEquals(await exists(`${home}/cache/cas/${hash}`), false, "the bad copy was dropped");
  } finally {
    await removeHome(home);
  }
});

Deno.test("a JS module cannot touch files, sockets, processes or the environment, nor step outside its grant", async () => {
  const home = await makeHome();
  try {
    const src = `export async function main(grid) {
  const tries = {
    read: () => Deno.readTextFile(${JSON.stringify(`${home}/config`)}),
    write: () => Deno.writeTextFile(${JSON.stringify(`${home}/pwned`)}, "x"),
    socket: () => Deno.connect({ hostname: "127.0.0.1", port: 7340 }),
    spawn: () => new Deno.Command("id").output(),
    env: () => Deno.env.get("GRID_HOME"),
  };
  for (const [what, f] of Object.entries(tries)) {
    try { await f(); grid.write(what + " allowed\\n"); }
    catch (e) { grid.write(what + " " + e.name + "\\n"); }
  }
  const put = await grid.call([grid.promises.put, grid.modules.cas, new Uint8Array([1, 2, 3])]);
  grid.write("put " + (put[0]["/"] === grid.replies.reject["/"] ? "rejected " + put[1] : "accepted") + "\\n");
  return 0;
}`;
    const file = await writeTemp(home, "probe.js", src);
    const pub = await runGrid(home, ["publish", file, "--name", "probe", "--grant", "get"]);
    assertEquals(pub.code, 0, pub.stderr);
    await Deno.remove(file);
    const before = await snapshot(home);
    const config = await Deno.readTextFile(`${home}/config`);
    const ran = await runGrid(home, ["probe"]);
    assertEquals(ran.code, 0, ran.stderr);
    assertEquals(
      ran.text,
      "read NotCapable\nwrite NotCapable\nsocket NotCapable\nspawn NotCapable\nenv NotCapable\nput rejected denied\n",
    );
    assertEquals(await snapshot(home), before, "the node's files are untouched");
    assertEquals(await Deno.readTextFile(`${home}/config`), config);
  } finally {
    await removeHome(home);
  }
});

Deno.test("an endless module ends with the command: time limit reported, process gone", async () => {
  const home = await makeHome();
  try {
    const file = await writeTemp(home, "spin.js", "while (true) {}\n");
    assertEquals((await runGrid(home, ["publish", file, "--name", "spin"])).code, 0);
    const started = Date.now();
    const ran = await runGrid(home, ["spin"], { env: { GRID_MODULE_TIMEOUT_MS: "500" } });
    assertEquals(ran.code, 7);
    assert(ran.stderr.includes("time limit"), ran.stderr);
    assert(Date.now() - started < 15_000, "the process did not outlive the limit");
  } finally {
    await removeHome(home);
  }
});

Deno.test("a native module runs only after grid allow, and needs a wider --allow-run", async () => {
  const home = await makeHome();
  try {
    const file = await writeTemp(
      home,
      "native.sh",
      '#!/bin/sh\necho "native says $1 (HOME=${HOME:-none})"\n',
    );
    const pub = await runGrid(home, ["publish", file, "--name", "native", "--kind", "native"]);
    assertEquals(pub.code, 0, pub.stderr);
    const hash = field(pub.text, "module");

    const refused = await runGridAllowRun(home, ["native", "hi"]);
    assertEquals(refused.code, 4);
    assert(refused.stderr.includes(`grid allow ${hash}`), refused.stderr);
    assertEquals(refused.text, "");

    const allow = await runGrid(home, ["allow", hash]);
    assertEquals(allow.code, 0, allow.stderr);
    assertEquals(allow.text, `allowed ${hash}\n`);

    const narrow = await runGrid(home, ["native", "hi"]);
    assertEquals(narrow.code, 4);
    assert(narrow.stderr.includes("--allow-run"), narrow.stderr);

    const ran = await runGridAllowRun(home, ["native", "hi"]);
    assertEquals(ran.code, 0, ran.stderr);
    assertEquals(ran.text, "native says hi (HOME=none)\n");
    assertEquals((await Deno.stat(`${home}/state/exec/${hash}`)).mode! & 0o777, 0o700);
  } finally {
    await removeHome(home);
  }
});
