import { assert, assertEquals, assertRejects } from "./_testing_assert.ts";
import { accept, isAccept, rejectReason } from "./promises.ts";
import { hashText } from "./hash.ts";
import type { Parms } from "./codec.ts";
import { GridError } from "./errors.ts";
import {
  agentAnswers,
  callAgent,
  CONTROL_CHUNK_BYTES,
  ControlServer,
  controlSocketPath,
  readFrame,
} from "./control_socket.ts";

const P = hashText("control test");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-control-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Leaves a socket file nobody listens on: what an agent killed with SIGKILL leaves behind. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.listen({ transport: "unix", path: ${
        JSON.stringify(path)
      } }); console.log("ready"); setInterval(() => {}, 1000);`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
}

Deno.test("callAgent() gets the handler's reply; long output arrives whole, in chunks", async () => {
  await withDir(async (dir) => {
    const path = controlSocketPath(dir);
    const big = new Uint8Array(CONTROL_CHUNK_BYTES * 2 + 5).map((_, i) => i % 251);
    const server = await ControlServer.start(path, {
      handler: (parms: Parms) =>
        Promise.resolve(
          parms[1] === "big" ? accept(0, big, "note") : accept(7, new Uint8Array([1]), ""),
        ),
    });
    try {
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
      const small = await callAgent(path, [P, "small"]);
      assert(small && isAccept(small));
      assertEquals(small[1], 7);
      const reply = await callAgent(path, [P, "big"]);
      assert(reply && isAccept(reply));
      assertEquals(reply[2], big);
      assertEquals(reply[3], "note");
    } finally {
      await server.close();
    }
    assertEquals(await agentAnswers(path), false);
  });
});

Deno.test("a socket left by a dead agent is removed, and a live one refuses a second agent", async () => {
  await withDir(async (dir) => {
    const path = controlSocketPath(dir);
    await leaveStaleSocket(path);
    assert((await Deno.lstat(path)).isSocket, "no stale socket to test with");
    assertEquals(await agentAnswers(path), false);
    assertEquals(await callAgent(path, [P]), undefined);
    await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
    // Start clears a stale socket too.
    await leaveStaleSocket(path);
    const server = await ControlServer.start(path, { handler: () => Promise.resolve(accept()) });
    try {
      await assertRejects(
        () => ControlServer.start(path, { handler: () => Promise.resolve(accept()) }),
        GridError,
        "already running",
      );
    } finally {
      await server.close();
    }
  });
});

Deno.test("garbage on the control socket gets a reject, and the agent keeps answering", async () => {
  await withDir(async (dir) => {
    const path = controlSocketPath(dir);
    const server = await ControlServer.start(path, { handler: () => Promise.resolve(accept(1)) });
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      await conn.write(new Uint8Array([0, 0, 0, 3, 0xff, 0xff, 0xff]));
      const garbage = await readFrame(conn);
      conn.close();
      assertEquals(rejectReason(garbage!).code, "codec");
      const huge = await Deno.connect({ transport: "unix", path });
      await huge.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      const oversize = await readFrame(huge);
      huge.close();
      assert(/over the/.test(rejectReason(oversize!).reason));
      const reply = await callAgent(path, [P]);
      assert(reply && isAccept(reply));
    } finally {
      await server.close();
    }
  });
});

Deno.test("of several agents starting at once on one home, exactly one claims it", async () => {
  await withDir(async (dir) => {
    const path = controlSocketPath(dir);
    const module = new URL("./control_socket.ts", import.meta.url).href;
    const script = `
      import { ControlServer } from ${JSON.stringify(module)};
      try {
        await ControlServer.start(${JSON.stringify(path)}, { handler: () => Promise.resolve([]) });
        console.log("claimed");
        await new Promise((r) => setTimeout(r, 1500));
      } catch (err) {
        console.log("refused: " + err.message);
      }
      Deno.exit(0);`;
    const outputs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Deno.Command(Deno.execPath(), { args: ["eval", script], stdout: "piped" }).output(),
      ),
    );
    const lines = outputs.map((o) => new TextDecoder().decode(o.stdout).trim());
    assertEquals(lines.filter((l) => l === "claimed").length, 1, lines.join("\n"));
    assert(lines.every((l) => l === "claimed" || l.includes("already running")), lines.join("\n"));
  });
});

Deno.test("the command line talks only to a socket its own user owns", async () => {
  await withDir(async (dir) => {
    const path = controlSocketPath(dir);
    await Deno.writeTextFile(path, "not a socket");
    await assertRejects(() => agentAnswers(path), GridError, "not a socket of this user's agent");
    await Deno.remove(path);
    if (Deno.uid() !== 0) return; // only root can make a socket another user owns
    const server = await ControlServer.start(path, {
      handler: () => Promise.resolve(accept("planted")),
    });
    try {
      await Deno.chown(path, 65534, 65534); // planted by "nobody"
      await assertRejects(() => callAgent(path, [P]), GridError, "refusing to talk to it");
      await Deno.chown(path, 0, 0);
      assert(await agentAnswers(path));
    } finally {
      await server.close();
    }
  });
});
