/**
 * End-to-end checks of the mesh commands' failure paths (review findings,
 * issue 4): `grid` runs as a subprocess with the release permission set
 * against a temporary GRID_HOME. A bad invite is refused in one line before
 * anything starts or binds; a member rejoining is told so; bad --ttl and
 * --uses values get our own one-line message; `peers add` of a listed URL
 * says so once.
 */
import { assert, assertEquals } from "../kernel/_testing_assert.ts";
import { generateIdentity } from "../kernel/mod.ts";
import { MeshLab, releaseFlags } from "./lab/mesh_lab.ts";
import { labSkipReason, waitFor } from "./lab/netns.ts";
import { createInvite } from "../modules/membership/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `grid ARGS` with the release flags in `home`. */
async function grid(home: string, args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...await releaseFlags(), `${ROOT}/main.ts`, ...args],
    cwd: ROOT,
    env: { GRID_HOME: home, NO_COLOR: "1", GRID_DEBUG: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Exactly one "grid: " line on stderr naming `includes`, nothing on stdout, non-zero exit. */
function assertOneLineFailure(run: Run, includes: string): void {
  assert(run.code !== 0, `exit code ${run.code}`);
  const lines = run.stderr.split("\n").filter((l) => l.length > 0);
  assertEquals(lines.length, 1, `stderr: ${run.stderr}`);
  assert(lines[0].startsWith("grid: "), lines[0]);
  assert(lines[0].includes(includes), `"${lines[0]}" lacks "${includes}"`);
  assertEquals(run.stdout, "");
}

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-meshfail-" });
  try {
    await fn(`${dir}/home`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A correctly signed invite for net `netName` (of a net this node is not in). */
async function inviteFor(netName: string, now = Date.now()): Promise<string> {
  const inviter = await generateIdentity();
  const invite = await createInvite(inviter, {
    net: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    netName,
    urls: ["ws://127.0.0.1:1/"],
    ttlMs: 60_000,
    now,
  });
  return invite.token;
}

Deno.test("join refuses a bad invite in one line before it starts or binds an agent", async (t) => {
  // The agent's port is held: a join that started its agent first would say "Cannot listen".
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const listen = `127.0.0.1:${(held.addr as Deno.NetAddr).port}`;
  const forged = (await inviteFor("foo")).slice(0, -6) + "AAAAAA";
  const rows: [string, string, string][] = [
    ["malformed", "garbage", "Invalid invite"],
    ["for another net", await inviteFor("bar"), `for net "bar", not "foo"`],
    ["expired", await inviteFor("foo", Date.now() - 3_600_000), "expired"],
    ["forged", forged, "Invalid invite: its secret does not match its invite key"],
  ];
  try {
    await withHome(async (home) => {
      for (const [what, token, says] of rows) {
        await t.step(what, async () => {
          const run = await grid(home, ["join-wireguard-net", "foo", token, "--listen", listen]);
          assertOneLineFailure(run, says);
          assert(!run.stderr.includes("Cannot listen"), run.stderr);
        });
      }
    });
  } finally {
    held.close();
  }
});

Deno.test("a member joining again: a bad invite is refused, a valid one is told it is a member", async () => {
  await withHome(async (home) => {
    const created = await grid(home, ["create-wireguard-net", "foo", "--cidr", "10.61.0.0/24"]);
    assertEquals(created.code, 0, created.stderr);
    assertOneLineFailure(
      await grid(home, ["join-wireguard-net", "foo", "garbage"]),
      "Invalid invite",
    );
    const invite = await grid(home, ["invite", "foo", "--url", "ws://127.0.0.1:1/"]);
    assertEquals(invite.code, 0, invite.stderr);
    const again = await grid(home, ["join-wireguard-net", "foo", invite.stdout.trim()]);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(again.stderr, "");
    assert(again.stdout.startsWith(`Already a member of net "foo" as 10.61.0.`), again.stdout);
    assertEquals(again.stdout.trim().split("\n").length, 1);
    assert(!again.stdout.includes("admitted by"), again.stdout);
  });
});

Deno.test("invite refuses a negative --ttl or --uses with its own one-line message", async (t) => {
  await withHome(async (home) => {
    const created = await grid(home, ["create-wireguard-net", "foo"]);
    assertEquals(created.code, 0, created.stderr);
    const rows: [string[], string][] = [
      [["--ttl", "-5m"], `Invalid --ttl "-5m": must be a positive duration like 30m, 12h, 7d`],
      [["--ttl=-5m"], `Invalid --ttl "-5m"`],
      [["--ttl", "0m"], `Invalid --ttl "0m"`],
      [["--uses", "-1"], `Invalid --uses "-1": must be a whole number from 1 to`],
      [["--uses", "0"], `Invalid --uses "0"`],
    ];
    for (const [flags, says] of rows) {
      await t.step(flags.join(" "), async () => {
        const run = await grid(home, ["invite", "foo", "--url", "ws://127.0.0.1:1/", ...flags]);
        assertOneLineFailure(run, says);
        assert(!run.stderr.includes("ambiguous"), run.stderr);
      });
    }
  });
});

Deno.test("peers add of a URL already listed says so in one line and exits 0", async () => {
  await withHome(async (home) => {
    const first = await grid(home, ["peers", "add", "ws://127.0.0.1:9/"]);
    assertEquals(first.code, 0, first.stderr);
    const again = await grid(home, ["peers", "add", "ws://127.0.0.1:9/"]);
    assertEquals(again.code, 0);
    assertEquals(again.stderr, "");
    assertEquals(again.stdout.trim().split("\n").length, 1);
    assert(again.stdout.includes("already listed"), again.stdout);
    assert(!again.stdout.includes("dialling"), again.stdout);
  });
});

const labSkip = await labSkipReason();
if (labSkip) console.log(`mesh_failures_test: namespace checks skipped, ${labSkip}`);

/** True while a wireguard-go serves interface `iface` (its control socket exists). */
async function wireguardGoRuns(iface: string): Promise<boolean> {
  try {
    await Deno.lstat(`/var/run/wireguard/${iface}.sock`);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** One net's entry in `grid status --json`. */
interface NetStatusJson {
  name: string;
  interfaceUp: boolean;
  listenPort: number;
}

Deno.test({
  name:
    "in a namespace: a failed create leaves nothing live, ports are chosen free, overlaps are refused, status sees a link down",
  ignore: labSkip !== undefined,
  sanitizeOps: false, // the agent and wireguard-go run detached; the lab removes them
  sanitizeResources: false,
  async fn(t) {
    const mesh = await MeshLab.create(1);
    const node = mesh.nodes[0];
    const [ifA, ifB, ifC] = ["a", "b", "c"].map((s) => `${node.ifname}${s}`);
    const held = 52000 + Math.floor(Math.random() * 1000);
    const status = async (): Promise<NetStatusJson[]> =>
      JSON.parse(await mesh.gridOk(node, ["status", "--json"])).nets;
    try {
      await mesh.startAgent(node);
      // A UDP port taken by another program in the namespace.
      const holder = mesh.lab.spawn(node, "udp-holder", [
        Deno.execPath(),
        "eval",
        `const s = (await import("node:dgram")).createSocket("udp4");` +
        `s.bind(${held}, "0.0.0.0", () => console.log("bound")); setInterval(() => {}, 1000);`,
      ]);
      await waitFor(() => holder.output().includes("bound"), 10_000);
      await mesh.gridOk(node, [
        "create-wireguard-net",
        "a",
        "--interface",
        ifA,
        "--cidr",
        "10.71.0.0/24",
      ]);

      await t.step(
        "a create that cannot bind its port leaves no net, interface or wireguard-go",
        async () => {
          const out = await mesh.grid(node, [
            "create-wireguard-net",
            "b",
            "--interface",
            ifB,
            "--cidr",
            "10.72.0.0/24",
            "--listen-port",
            String(held),
          ]);
          assert(out.code !== 0, out.stdout);
          assertEquals(out.stderr.trim().split("\n").length, 1, out.stderr);
          const link = await mesh.lab.run(node, ["ip", "link", "show", "dev", ifB]);
          assert(link.code !== 0, `interface ${ifB} is still there: ${link.stdout}`);
          assert(
            await waitFor(async () => !(await wireguardGoRuns(ifB)), 5000),
            "wireguard-go lingers",
          );
          let kept = true;
          await Deno.lstat(`${node.home}/state/nets/b`).catch(() => (kept = false));
          assertEquals(kept, false);
          assertEquals((await status()).map((n) => n.name), ["a"]);
        },
      );

      await t.step("a second net without --listen-port takes a free port", async () => {
        await mesh.gridOk(node, [
          "create-wireguard-net",
          "c",
          "--interface",
          ifC,
          "--cidr",
          "10.73.0.0/24",
        ]);
        const nets = await status();
        const [a, c] = ["a", "c"].map((name) => nets.find((n) => n.name === name)!);
        assertEquals(a.listenPort, 51820);
        assert(c.listenPort !== a.listenPort && c.listenPort !== held, String(c.listenPort));
        assert(c.interfaceUp);
        const wg = await mesh.lab.run(node, ["wg", "show", ifC, "listen-port"]);
        assertEquals(wg.stdout.trim(), String(c.listenPort));
      });

      await t.step("a CIDR overlapping another net here is refused in one line", async () => {
        const out = await mesh.grid(node, [
          "create-wireguard-net",
          "ov",
          "--cidr",
          "10.71.0.0/16",
          "--listen-port",
          "51830",
        ]);
        assert(out.code !== 0);
        assertEquals(
          out.stderr.trim(),
          `grid: CIDR 10.71.0.0/16 overlaps 10.71.0.0/24 of net "a" on this node`,
        );
      });

      await t.step("status says down for an interface that is down", async () => {
        await mesh.lab.run(node, ["ip", "link", "set", "dev", ifA, "down"]);
        const a = (await status()).find((n) => n.name === "a")!;
        assertEquals(a.interfaceUp, false);
      });

      await t.step("the agent does not keep retrying the failed net", async () => {
        await new Promise((r) => setTimeout(r, 3200)); // one reconcile period (3 s)
        assert(
          !/reconcile-failed net=b\b/.test(node.agent!.output()),
          node.agent!.output().slice(-1500),
        );
      });
    } finally {
      await mesh.destroy();
    }
  },
});
