/**
 * End-to-end tests of the peer layer: agents as real subprocesses on
 * loopback, real WebSockets, real identities.
 *
 * @module
 */
import { WebSocket } from "ws";
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import {
  accept,
  CID,
  generateIdentity,
  hashBytes,
  hashText,
  isAccept,
  type Parms,
  parseHash,
  reject,
  rejectReason,
  verifyBytes,
} from "../kernel/mod.ts";
import {
  type AgentProcess,
  eventually,
  freePort,
  makeHome,
  removeHome,
  runGrid,
  startAgent,
} from "./lab/agents.ts";
import { CHUNK_BYTES, LOOKUP_ID_BYTES, rangeMessage } from "../kernel/peers/proxy.ts";
import { encodeHello, encodeProof, generateEphemeral } from "../kernel/peers/_protocol.ts";
import { RECORD_OVERHEAD } from "../kernel/peers/_record.ts";
import { PeerHub, RANGE_PROMISE } from "../kernel/peers/mod.ts";
import { WsLink } from "../kernel/peers/_ws_link.ts";

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

async function writeTemp(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "grid-blob-" });
  await Deno.writeFile(path, bytes);
  return path;
}

async function putOn(home: string, file: string): Promise<string> {
  const put = await runGrid(home, ["put", file]);
  assertEquals(put.code, 0, put.stderr);
  return put.text.trim();
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern.source, "g"))].length;
}

/** Every CAS file under `home` hashes to its own name. */
async function assertCacheIntact(home: string): Promise<number> {
  let files = 0;
  for await (const entry of Deno.readDir(`${home}/cache/cas`)) {
    if (!entry.isFile || entry.name.startsWith(".tmp-")) continue;
    const bytes = await Deno.readFile(`${home}/cache/cas/${entry.name}`);
    assert(verifyBytes(parseHash(entry.name), bytes), `corrupt cache file ${entry.name}`);
    files++;
  }
  return files;
}

async function peersJson(home: string): Promise<{ id: string; state: string; score: number }[]> {
  const list = await runGrid(home, ["peers", "list", "--json"]);
  assertEquals(list.code, 0, list.stderr);
  return JSON.parse(list.text).peers;
}

/** Homes and agents to clean up whatever happens. */
class Lab {
  homes: string[] = [];
  agents: AgentProcess[] = [];
  hubs: PeerHub[] = [];
  files: string[] = [];
  async home(): Promise<string> {
    const home = await makeHome();
    this.homes.push(home);
    return home;
  }
  async agent(home: string, options: Parameters<typeof startAgent>[1] = {}): Promise<AgentProcess> {
    const agent = await startAgent(home, options);
    this.agents.push(agent);
    return agent;
  }
  async close(): Promise<void> {
    await Promise.all(this.hubs.map((h) => h.close()));
    await Promise.all(this.agents.map((a) => a.stop()));
    await Promise.all(this.homes.map(removeHome));
    for (const f of this.files) await Deno.remove(f).catch(() => {}); // may be gone already
  }
}

Deno.test("a get on C finds a put on A through B, then C answers from its own cache", async () => {
  const lab = new Lab();
  try {
    const [a, b, c] = [await lab.home(), await lab.home(), await lab.home()];
    const agentA = await lab.agent(a);
    assertEquals((await runGrid(b, ["peers", "add", agentA.url])).code, 0);
    const agentB = await lab.agent(b);
    assertEquals((await runGrid(c, ["peers", "add", agentB.url])).code, 0);
    const agentC = await lab.agent(c);
    await agentA.waitForLog(/peer-up/);
    await agentC.waitForLog(/peer-up/);

    // Bigger than one slice, so it also travels in chunks.
    const bytes = randomBytes(CHUNK_BYTES * 2 + 12345);
    const file = await writeTemp(bytes);
    lab.files.push(file);
    const hash = await putOn(a, file);
    assertEquals(hash, hashBytes(bytes).toString());

    const got = await runGrid(c, ["get", hash]);
    assertEquals(got.code, 0, got.stderr);
    assert(verifyBytes(parseHash(hash), got.stdout), "C got other bytes than A stored");
    assertEquals(got.stdout.length, bytes.length);
    // C knows only B; B fetched from A and kept a copy too.
    const cPeers = await peersJson(c);
    assertEquals(cPeers.map((p) => p.id), [agentB.nodeId]);
    assert(new RegExp(`peer-fetched peer=${agentB.nodeId}`).test(agentC.log()));
    assert(new RegExp(`peer-fetched peer=${agentA.nodeId}`).test(agentB.log()));
    assert(verifyBytes(parseHash(hash), await Deno.readFile(`${c}/cache/cas/${hash}`)));
    assert(verifyBytes(parseHash(hash), await Deno.readFile(`${b}/cache/cas/${hash}`)));

    // Content nobody has: one clear line, not the reasons of every hop nested inside each other.
    const unknown = hashBytes(randomBytes(64)).toString();
    const miss = await runGrid(c, ["get", unknown]);
    assert(miss.code !== 0, "a get of unknown content succeeded");
    const line = miss.stderr.trim();
    assert(new RegExp(`Cannot get "${unknown}": no peer has it \\(asked 1\\)$`).test(line), line);
    assertEquals(line.split("\n").length, 1, line);
    assertEquals(count(line, /no peer/i), 1, line);

    // With A and B gone, C still answers: from its own cache.
    await agentA.stop();
    await agentB.stop();
    const again = await runGrid(c, ["get", hash]);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(again.stdout, got.stdout);
    assertEquals(count(agentC.log(), /peer-fetched/), 1);
  } finally {
    await lab.close();
  }
});

Deno.test("a peer serving tampered bytes is caught and the right bytes come from an honest peer", async () => {
  const lab = new Lab();
  try {
    const [a, c] = [await lab.home(), await lab.home()];
    const bytes = randomBytes(200_000);
    const file = await writeTemp(bytes);
    lab.files.push(file);
    const hash = await putOn(a, file);
    const agentA = await lab.agent(a);

    // The liar: a real peer with a real key that answers every ranged get with flipped bytes.
    let liedTimes = 0;
    const liar = new PeerHub({
      identity: await generateIdentity(),
      handler: (parms: Parms) => {
        if (!RANGE_PROMISE.cid.equals(parms[0])) {
          return Promise.resolve(reject("not-found", "no"));
        }
        liedTimes++;
        const fake = bytes.slice(0, Math.min(bytes.length, parms[4] as number));
        fake[0] ^= 0xff;
        return Promise.resolve(accept(bytes.length, fake));
      },
    });
    lab.hubs.push(liar);
    const liarAt = await liar.listen("127.0.0.1", 0);

    // C meets the liar first, then the honest A, so the liar is asked first.
    assertEquals((await runGrid(c, ["peers", "add", liarAt.url])).code, 0);
    const agentC = await lab.agent(c);
    await agentC.waitForLog(/peer-up/);
    assertEquals((await runGrid(c, ["peers", "add", agentA.url])).code, 0);
    await eventually(() => count(agentC.log(), /peer-up/) >= 2, "C to reach A");

    const got = await runGrid(c, ["get", hash]);
    assertEquals(got.code, 0, got.stderr);
    assertEquals(got.stdout, bytes);
    assert(liedTimes >= 1, "the liar was never asked");
    assert(new RegExp(`peer-broken-promise peer=${liar.selfId}`).test(agentC.log()));
    const scores = new Map((await peersJson(c)).map((p) => [p.id, p.score]));
    assert(scores.get(liar.selfId)! < 0, "liar kept a good score");
    assertEquals(scores.get(agentA.nodeId), 1);
    await assertCacheIntact(c);
  } finally {
    await lab.close();
  }
});

/** Opens a raw WebSocket, runs `act`, and resolves with the close code the agent sent. */
function rawSession(
  url: string,
  act: (ws: WebSocket) => void,
  options: { maxPayload?: number; timeoutMs?: number } = {},
): Promise<number> {
  const { timeoutMs = 15_000, ...wsOptions } = options;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...wsOptions });
    // A node that never closes the session fails the test instead of hanging it.
    const timer = setTimeout(() => {
      reject(new Error(`the agent did not close the session within ${timeoutMs} ms`));
      ws.terminate();
    }, timeoutMs);
    ws.on("error", () => {}); // the close event carries what we assert
    ws.on("open", () => act(ws));
    ws.on("close", (code: number) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

Deno.test("bad input never takes a running agent down", async (t) => {
  const lab = new Lab();
  try {
    const home = await lab.home();
    const bytes = randomBytes(100_000);
    const file = await writeTemp(bytes);
    lab.files.push(file);
    const hash = await putOn(home, file);
    const cid = CID.parse(hash);
    const agent = await lab.agent(home);
    const honest = new PeerHub({
      identity: await generateIdentity(),
      handler: () => Promise.resolve(reject("not-found", "no")),
    });
    lab.hubs.push(honest);
    honest.dial(agent.url);
    await eventually(() => honest.connected().length === 1, "honest peer to connect");

    const lookup = () => crypto.getRandomValues(new Uint8Array(LOOKUP_ID_BYTES));
    const stillServes = async () => {
      await eventually(() => honest.connected().length === 1, "honest link");
      const reply = await honest.request(agent.nodeId, rangeMessage(cid, 0, CHUNK_BYTES, lookup()));
      assert(isAccept(reply), `agent stopped serving: ${rejectReason(reply).reason}`);
      assertEquals(reply[2], bytes);
    };
    await stillServes();

    const identity = await generateIdentity();
    const hello = encodeHello({
      id: identity.id,
      publicKey: identity.publicKey,
      nonce: crypto.getRandomValues(new Uint8Array(32)),
      ephemeral: generateEphemeral().publicKey,
    });
    const cases: [string, (ws: WebSocket) => void, number[]][] = [
      ["random bytes", (ws) => ws.send(randomBytes(1000)), [4002]],
      ["truncated CBOR", (ws) => ws.send(hello.subarray(0, hello.length - 7)), [4002]],
      ["a text frame", (ws) => ws.send("hello"), [1003]],
      [
        "a frame over the limit",
        (ws) => ws.send(new Uint8Array(16 * 1024 * 1024 + RECORD_OVERHEAD + 1)),
        [1009],
      ],
      [
        "a hello whose node id is not its key's",
        (ws) => {
          const other = encodeHello({
            id: honest.selfId,
            publicKey: identity.publicKey,
            nonce: crypto.getRandomValues(new Uint8Array(32)),
            ephemeral: generateEphemeral().publicKey,
          });
          ws.send(other);
        },
        [4001],
      ],
      [
        "an unauthenticated peer (valid hello, forged proof)",
        (ws) => {
          ws.send(hello);
          ws.send(encodeProof(randomBytes(64)));
        },
        [4001],
      ],
      ["a silent peer (handshake timeout)", () => {}, [4001]],
    ];
    for (const [name, act, codes] of cases) {
      await t.step(`${name}: the link is closed, the agent serves on`, async () => {
        const code = await rawSession(agent.url, act);
        assert(codes.includes(code), `closed with ${code}, expected ${codes}`);
        await stillServes();
      });
    }

    await t.step(
      "a promise the node does not accept gets a reject, the agent serves on",
      async () => {
        const reply = await honest.request(agent.nodeId, [
          hashText("I promise nothing you know"),
          hashText("no module"),
        ]);
        assertEquals(rejectReason(reply).code, "not-accepted");
        await stillServes();
      },
    );

    await t.step("a thousand requests at once all get answers, the agent serves on", async () => {
      const replies = await Promise.all(
        Array.from(
          { length: 1000 },
          () => honest.request(agent.nodeId, rangeMessage(cid, 0, CHUNK_BYTES, lookup())),
        ),
      );
      let served = 0;
      for (const reply of replies) {
        if (isAccept(reply)) {
          assertEquals(reply[2], bytes);
          served++;
        } else {assert(
            /Too many requests/.test(rejectReason(reply).reason),
            rejectReason(reply).reason,
          );}
      }
      assert(served > 0, "none served");
      await stillServes();
    });

    assert(/peer-handshake-failed/.test(agent.log()));
    assert(/peer-request-refused .*over 256 in flight/.test(agent.log()), "no refusal logged");
    assert(/peer-request-rejected .*code=not-accepted/.test(agent.log()), "no reject logged");
    assert(/peer-protocol-error|peer-handshake-failed/.test(agent.log()));
  } finally {
    await lab.close();
  }
});

Deno.test("seventy authenticated strangers from one address cannot crowd out an honest peer", async () => {
  const lab = new Lab();
  const strangers: WsLink[] = [];
  const sockets: WebSocket[] = [];
  try {
    const home = await lab.home();
    const file = await writeTemp(randomBytes(10_000));
    lab.files.push(file);
    const cid = CID.parse(await putOn(home, file));
    const agent = await lab.agent(home);
    // The reviewer's repro: 70 links from another address, each a fresh identity.
    for (let i = 0; i < 70; i++) {
      // The identity first: a socket refused while we awaited it would close before
      // its link listened, and that link would never learn it is closed.
      const identity = await generateIdentity();
      const ws = new WebSocket(agent.url, { perMessageDeflate: false, localAddress: "127.0.0.2" });
      ws.on("error", () => {});
      sockets.push(ws);
      strangers.push(
        new WsLink(ws, {
          role: "dialer",
          identity,
          url: agent.url,
          handler: () => Promise.resolve(reject("not-found", "no")),
        }),
      );
    }
    await eventually(() => strangers.filter((l) => l.open).length <= 8, "refusals beyond 8");
    assert(strangers.filter((l) => l.open).length > 0, "no stranger was let in at all");
    assert(/peer-refused .*address limit 8/.test(agent.log()), "no refusal logged");
    // An honest peer still connects and is served.
    const honest = new PeerHub({
      identity: await generateIdentity(),
      handler: () => Promise.resolve(reject("not-found", "no")),
    });
    lab.hubs.push(honest);
    honest.dial(agent.url);
    await eventually(() => honest.connected().length === 1, "honest peer to connect");
    const lookupId = crypto.getRandomValues(new Uint8Array(LOOKUP_ID_BYTES));
    const reply = await honest.request(agent.nodeId, rangeMessage(cid, 0, CHUNK_BYTES, lookupId));
    assert(isAccept(reply), rejectReason(reply).reason);
  } finally {
    for (const ws of sockets) ws.terminate();
    // Bounded, so a socket that never reports its close cannot hide the test's own failure.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(strangers.map((l) => l.closed)),
      new Promise((r) => (timer = setTimeout(r, 5_000))),
    ]);
    clearTimeout(timer);
    await lab.close();
  }
});

Deno.test("an agent killed mid-transfer comes back: peers redial it, its cache is intact", async () => {
  const lab = new Lab();
  try {
    const [a, c] = [await lab.home(), await lab.home()];
    const bytes = randomBytes(32 * 1024 * 1024);
    const file = await writeTemp(bytes);
    lab.files.push(file);
    const hash = await putOn(a, file);
    const port = freePort();
    const listen = `127.0.0.1:${port}`;
    let agentC = await lab.agent(c, { listen });
    assertEquals((await runGrid(a, ["peers", "add", agentC.url])).code, 0);
    const agentA = await lab.agent(a);
    await agentC.waitForLog(/peer-up/);

    const transfer = runGrid(c, ["get", hash]);
    await agentC.waitForLog(/peer-fetch-start/);
    await new Promise((r) => setTimeout(r, 30));
    await agentC.kill();
    const cut = await transfer;
    assert(cut.code !== 0, "the transfer finished before the kill: not a mid-transfer test");
    assert(/agent closed the control connection/.test(cut.stderr), cut.stderr);
    await agentA.waitForLog(/peer-down/);
    await assertCacheIntact(c);

    agentC = await lab.agent(c, { listen });
    // A redials by itself: a second peer-up on A, with no command from us.
    await eventually(() => count(agentA.log(), /peer-up/) >= 2, "A to reconnect to C", 15_000);
    const got = await runGrid(c, ["get", hash]);
    assertEquals(got.code, 0, got.stderr);
    assert(verifyBytes(parseHash(hash), got.stdout));
    assertEquals(got.stdout.length, bytes.length);
    assert((await assertCacheIntact(c)) >= 1);
  } finally {
    await lab.close();
  }
});

Deno.test("the CLI goes through a running agent, and runs alone once the agent is gone", async () => {
  const lab = new Lab();
  try {
    const home = await lab.home();
    const agent = await lab.agent(home);
    const socket = `${home}/agent.sock`;
    assertEquals((await Deno.stat(socket)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(home)).mode! & 0o777, 0o700);

    // A relative path works through the agent (it runs in another directory).
    const dir = await Deno.makeTempDir({ prefix: "grid-cwd-" });
    lab.files.push(`${dir}/note.txt`, dir);
    await Deno.writeTextFile(`${dir}/note.txt`, "hello through the agent\n");
    const put = await runGrid(home, ["put", "note.txt"], { cwd: dir });
    assertEquals(put.code, 0, put.stderr);
    const get = await runGrid(home, ["get", put.text.trim()]);
    assertEquals(get.text, "hello through the agent\n");
    // Only file arguments of file commands are rewritten: here "note.txt" is a bad hash, as typed.
    const typed = await runGrid(home, ["get", "note.txt"], { cwd: dir });
    assertEquals(typed.code, 5);
    assert(/"note.txt"/.test(typed.stderr), typed.stderr);

    // peers list answered by the agent knows its node id.
    const listed = JSON.parse((await runGrid(home, ["peers", "list", "--json"])).text);
    assertEquals(listed.self, agent.nodeId);

    const second = await runGrid(home, ["serve", "--listen", "127.0.0.1:0"]);
    assertEquals(second.code, 9);
    assert(/already running/.test(second.stderr), second.stderr);
    const bad = await runGrid(home, ["peers", "add", "http://example.net"]);
    assertEquals(bad.code, 2);
    assert(/use ws:\/\/ or wss:\/\//.test(bad.stderr), bad.stderr);

    await agent.kill();
    assert((await Deno.lstat(socket)).isSocket, "kill -9 should leave the socket behind");
    const alone = await runGrid(home, ["peers", "list", "--json"]);
    assertEquals(alone.code, 0, alone.stderr);
    assertEquals(JSON.parse(alone.text).self, null);
    await Deno.lstat(socket).then(
      () => assert(false, "stale socket not removed"),
      (err) => assert(err instanceof Deno.errors.NotFound),
    );
  } finally {
    await lab.close();
  }
});
