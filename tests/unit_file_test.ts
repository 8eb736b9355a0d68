/**
 * contrib/grid.service works unedited on a server and keeps its hardening;
 * contrib/grid.default (the example /etc/default/grid) changes nothing as
 * shipped. With systemd-analyze on the machine, the unit passes
 * `systemd-analyze verify`.
 */
import { BUILTINS } from "../builtins/mod.ts";
import { assert, assertEquals } from "../kernel/_testing_assert.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const UNIT = await Deno.readTextFile(`${ROOT}/contrib/grid.service`);
const DEFAULTS = await Deno.readTextFile(`${ROOT}/contrib/grid.default`);
const BINARY = "/usr/local/bin/grid";

/** Every `Key=value` of a unit (or environment file) outside comments, in order. */
function directives(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) {
      continue;
    }
    const eq = line.indexOf("=");
    assert(eq > 0, `not a Key=value line: ${line}`);
    out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

/** The values a unit gives a key. */
function values(key: string): string[] {
  return directives(UNIT).filter(([k]) => k === key).map(([, v]) => v);
}

/** `NAME=value` assignments of an `Environment=` value or an environment-file line, quotes removed. */
function assignment(text: string): [string, string] {
  const unquoted = /^"(.*)"$/.exec(text)?.[1] ?? text;
  const eq = unquoted.indexOf("=");
  assert(eq > 0, `not an assignment: ${text}`);
  const value = unquoted.slice(eq + 1);
  return [unquoted.slice(0, eq), /^"(.*)"$/.exec(value)?.[1] ?? value];
}

/** The flags `grid serve` takes, from the command itself (so a flag added or renamed there counts here). */
const SERVE_FLAGS = (await BUILTINS.load()).find((b) => b.command.name === "serve")!.command
  .options!.map(([option]) => option.split(" ")[0]);

Deno.test("grid.service keeps its hardening", () => {
  const expected: [string, string][] = [
    ["CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_BIND_SERVICE"],
    ["AmbientCapabilities", "CAP_NET_ADMIN CAP_NET_BIND_SERVICE"],
    ["NoNewPrivileges", "yes"],
    ["ProtectSystem", "strict"],
    ["ReadWritePaths", "/var/lib/grid /var/run/wireguard /run/wireguard"],
    ["ProtectHome", "yes"],
    ["PrivateTmp", "yes"],
    ["DevicePolicy", "closed"],
    ["DeviceAllow", "/dev/net/tun rw"],
    ["ProtectKernelModules", "yes"],
    ["RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"],
    ["SystemCallFilter", "@system-service"],
    ["StateDirectoryMode", "0700"],
    ["UMask", "0077"],
  ];
  for (const [key, value] of expected) {
    assertEquals(values(key), [value], `${key}=`);
  }
});

Deno.test("grid.service runs unedited: --advertise auto by default, /etc/default/grid overrides", () => {
  assert(!UNIT.includes("%H"), "the unit must not advertise the host name (%H)");
  assertEquals(values("EnvironmentFile"), ["-/etc/default/grid"]);
  const env = new Map(values("Environment").map(assignment));
  assertEquals(env.get("GRID_HOME"), "/var/lib/grid");
  assertEquals(env.get("GRID_SERVE_ARGS"), "--listen [::]:7340 --advertise auto");
  // Environment= before EnvironmentFile=, which overrides it; unbraced so it splits into words.
  assertEquals(values("ExecStart"), [`${BINARY} serve $GRID_SERVE_ARGS`]);
});

Deno.test("grid.service keeps wireguard-go across restarts and signals readiness", () => {
  assertEquals(values("KillMode"), ["process"]);
  assert(/grid down/.test(UNIT), "the unit says how to take the tunnels down on purpose");
  assertEquals(values("ExecStartPost"), [`${BINARY} wait --timeout 60`]);
  const timeout = values("TimeoutStartSec");
  assertEquals(timeout.length, 1);
  assert(parseInt(timeout[0]) > 60, "the start timeout leaves `grid wait --timeout 60` its time");
  assertEquals(values("RuntimeDirectoryPreserve"), ["yes"]);
});

Deno.test("grid.default changes nothing as shipped and its examples are serve flags", () => {
  assertEquals(
    directives(DEFAULTS),
    [],
    "every line of the example /etc/default/grid is a comment",
  );
  const examples = DEFAULTS.split("\n")
    .filter((line) => line.startsWith("#GRID_SERVE_ARGS="))
    .map((line) => assignment(line.slice(1))[1]);
  assert(examples.length >= 2, "the file shows GRID_SERVE_ARGS examples");
  assertEquals(examples[0], "--listen [::]:7340 --advertise auto", "the first is the default");
  for (const example of examples) {
    for (const word of example.split(/\s+/).filter((w) => w.startsWith("--"))) {
      assert(SERVE_FLAGS.includes(word), `${word} is not a flag of grid serve`);
    }
    assert(example.includes("--listen"), `an example without --listen: ${example}`);
  }
  for (const flag of [...SERVE_FLAGS, "ws://HOST:7340"]) {
    assert(DEFAULTS.includes(flag), `grid.default does not mention ${flag}`);
  }
});

const analyze = await (async () => {
  try {
    const out = await new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
})();
if (!analyze) {
  console.log("unit_file_test: skipping systemd-analyze verify: systemd-analyze not found");
}

/** `systemd-analyze verify` of the unit text with the grid binary at a path that exists. */
async function verify(unit: string): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "grid-unit-" });
  try {
    // verify checks that ExecStart's program exists and is executable.
    const binary = `${dir}/grid`;
    await Deno.writeTextFile(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const file = `${dir}/grid.service`;
    await Deno.writeTextFile(file, unit.replaceAll(BINARY, binary));
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", file],
      stdout: "piped",
      stderr: "piped",
      env: { SYSTEMD_LOG_COLOR: "0", SYSTEMD_PAGER: "" },
    }).output();
    const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { code: out.code, output };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "grid.service passes systemd-analyze verify",
  ignore: !analyze,
  async fn() {
    const { code, output } = await verify(UNIT);
    const about = output.split("\n").filter((line) => line.includes("grid.service"));
    assertEquals(about, [], `systemd-analyze verify:\n${output}`);
    assertEquals(code, 0, `systemd-analyze verify exited ${code}:\n${output}`);
    // The check sees problems: the same unit with an unknown key is reported.
    const broken = await verify(UNIT.replace("[Service]\n", "[Service]\nNoSuchKey=yes\n"));
    assert(/Unknown key.*NoSuchKey/.test(broken.output), `not reported:\n${broken.output}`);
  },
});
