import { assert, assertEquals, assertThrows } from "../kernel/_testing_assert.ts";
import { GridError } from "../kernel/mod.ts";
import { parseLogLevel } from "../builtins/_flags.ts";
import { createLogger, parseListen } from "./agent.ts";

Deno.test("parseListen() reads HOST:PORT and [IPv6]:PORT", async (t) => {
  const rows: [string, { hostname: string; port: number }][] = [
    ["127.0.0.1:0", { hostname: "127.0.0.1", port: 0 }],
    ["0.0.0.0:7340", { hostname: "0.0.0.0", port: 7340 }],
    ["[::1]:9000", { hostname: "::1", port: 9000 }],
    ["localhost:1", { hostname: "localhost", port: 1 }],
  ];
  for (const [text, want] of rows) await t.step(text, () => assertEquals(parseListen(text), want));
  for (const bad of ["7340", "host:", "host:99999", ":80", "a:b:1"]) {
    await t.step(`refuses ${bad}`, () => {
      assertThrows(() => parseListen(bad), GridError, "Invalid listen address");
    });
  }
});

Deno.test("createLogger() writes one line per event at or above its level", () => {
  const lines: string[] = [];
  const log = createLogger(parseLogLevel("info"), (l) => lines.push(l));
  log("debug", "hidden", {});
  log("info", "peer-up", { peer: "bafy", url: "ws://a:1/", why: "two words" });
  log("error", "boom", { skipped: undefined });
  assertEquals(lines.length, 2);
  assertEquals(
    lines[0].split(" ").slice(1).join(" "),
    'info peer-up peer=bafy url=ws://a:1/ why="two words"',
  );
  assertEquals(lines[1].split(" ").slice(1).join(" "), "error boom");
  assertThrows(() => parseLogLevel("loud"), GridError, "Invalid log level");
});

Deno.test("createLogger() leaves the time out under journald, which stamps every line itself", () => {
  const lines: string[] = [];
  createLogger(parseLogLevel("info"), (l) => lines.push(l), false)("info", "peer-up", {
    peer: "x",
  });
  createLogger(parseLogLevel("info"), (l) => lines.push(l), true)("info", "peer-up", { peer: "x" });
  assertEquals(lines[0], "info peer-up peer=x");
  assert(/^\d{4}-\d\d-\d\dT[\d:.]+Z info peer-up peer=x$/.test(lines[1]), lines[1]);
});
