import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { ExecError, hashBytes, homeAt } from "../../kernel/mod.ts";
import { NativeExecutor, nativePath } from "./native_executor.ts";
import { allowHash, readAllowed } from "./allowed.ts";
import { testHost, testRequest, text, utf8 } from "./_testing_exec.ts";

const SCRIPT = utf8(
  `#!/bin/sh\necho "native $1 PATH=$PATH HOME=\${HOME:-unset} SECRET=\${GRID_TEST_SECRET:-unset}"\nexit 4\n`,
);

async function withHome(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "grid-native-" });
  try {
    await Deno.mkdir(`${root}/state`, { recursive: true });
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a native module runs only after its hash is allowed, with a clean environment", async () => {
  await withHome(async (root) => {
    const home = homeAt(root);
    const executor = new NativeExecutor({ home });
    const request = testRequest(testHost(), SCRIPT, { kind: "native", args: ["arg1"] });
    const err = await assertRejects(() => executor.run(request), ExecError, "grid allow");
    assertEquals(err.code, "denied");
    assert(
      !(await Deno.stat(`${root}/state/exec`).catch(() => null)), // any stat error: not there
      "nothing written before allow",
    );

    assertEquals(await allowHash(home, hashBytes(SCRIPT)), true);
    assertEquals(await allowHash(home, hashBytes(SCRIPT)), false);
    assertEquals((await Deno.stat(`${root}/allowed`)).mode! & 0o777, 0o600);
    Deno.env.set("GRID_TEST_SECRET", "leak");
    try {
      const result = await executor.run(request);
      assertEquals(result.code, 4);
      assertEquals(
        text(result.stdout),
        "native arg1 PATH=/usr/local/bin:/usr/bin:/bin HOME=unset SECRET=unset\n",
      );
    } finally {
      Deno.env.delete("GRID_TEST_SECRET");
    }
    const path = nativePath(home, request.module.toString());
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o700);
    assertEquals((await Deno.stat(`${root}/state/exec`)).mode! & 0o777, 0o700);
  });
});

Deno.test("a native module that runs too long is killed", async () => {
  await withHome(async (root) => {
    const home = homeAt(root);
    const bytes = utf8("#!/bin/sh\nsleep 30\n");
    await allowHash(home, hashBytes(bytes));
    const started = performance.now();
    await assertRejects(
      () =>
        new NativeExecutor({ home }).run(
          testRequest(testHost(), bytes, { kind: "native", limits: { timeoutMs: 300 } }),
        ),
      ExecError,
      "time limit",
    );
    assert(performance.now() - started < 5000);
  });
});

Deno.test("the allow list ignores blank lines and comments and refuses garbage", async () => {
  await withHome(async (root) => {
    const home = homeAt(root);
    const cid = hashBytes(SCRIPT);
    await Deno.writeTextFile(`${root}/allowed`, `# ops\n\n${cid}\n`);
    assertEquals([...await readAllowed(home)], [cid.toString()]);
    await Deno.writeTextFile(`${root}/allowed`, "nonsense\n");
    await assertRejects(() => readAllowed(home), Error, "Invalid hash");
  });
});
