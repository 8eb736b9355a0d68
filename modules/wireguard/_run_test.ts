import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import { runTool, toolArgv } from "./_run.ts";

Deno.test("toolArgv() wraps a tool in ip netns exec only when a namespace is given", () => {
  assertEquals(toolArgv("wg", ["show"]), ["wg", ["show"]]);
  assertEquals(toolArgv("wg", ["show"], "ns1"), ["ip", ["netns", "exec", "ns1", "wg", "show"]]);
});

const HAVE_IP = await new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);
if (!HAVE_IP) console.log("_run_test: timeout test skipped, `ip` (iproute2) is not installed");

Deno.test({
  name: "runTool() kills a tool that outlives its timeout and reports it as code -1",
  ignore: !HAVE_IP,
  async fn() {
    // `ip monitor` runs until killed.
    const started = performance.now();
    const result = await runTool("ip", ["monitor", "link"], { timeoutMs: 200 });
    assertEquals(result.code, -1);
    assert(result.stderr.includes("timed out"), result.stderr);
    assert(performance.now() - started < 5000, "the tool was not killed");
  },
});
