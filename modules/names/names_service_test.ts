import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { createSocket } from "node:dgram";
import type { LogLevel } from "../../kernel/mod.ts";
import { startNames } from "./names_service.ts";

Deno.test("startNames: an address in use is warned once and bound at a later refresh", async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const squatter = createSocket("udp4");
  await new Promise<void>((resolve) => squatter.bind(port, "127.0.0.1", resolve));
  const lines: [LogLevel, string][] = [];
  const stop = new AbortController();
  try {
    const names = await startNames({
      sets: () => [],
      onChange: () => () => {},
      dns: `127.0.0.1:${port}`,
      log: (level, event) => void lines.push([level, event]),
      signal: stop.signal,
    });
    assertEquals(names.dnsAddress(), undefined);
    await names.refresh();
    assertEquals(lines.filter(([, e]) => e === "dns-unavailable").length, 1);
    assertEquals(lines[0][0], "warn");
    await new Promise<void>((resolve) => squatter.close(resolve));
    await names.refresh();
    assertEquals(names.dnsAddress(), `127.0.0.1:${port}`);
    assert(lines.some(([, e]) => e === "dns-up"));
  } finally {
    stop.abort();
  }
});
