import { assert, assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { isWgKey } from "./wg_dump.ts";
import { WireGuardError } from "./wg_error.ts";
import { generateKeyPair, generatePresharedKey, publicKeyOf } from "./wg_keys.ts";
import { newWgPrivateKey } from "./wg_proof.ts";

const HAVE_WG = await new Deno.Command("wg", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);
const ignore = !HAVE_WG;
if (ignore) console.log("wg_keys_test: skipped, `wg` (wireguard-tools) is not installed");

Deno.test({
  name: "generateKeyPair() writes a 0600 key once and reuses it",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const first = await generateKeyPair(`${dir}/wg`);
      assert(isWgKey(first.publicKey));
      assertEquals(first.privateKeyFile, `${dir}/wg/wg.key`);
      const info = await Deno.stat(first.privateKeyFile);
      assertEquals(info.mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(`${dir}/wg`)).mode! & 0o777, 0o700);
      const secret = (await Deno.readTextFile(first.privateKeyFile)).trim();
      assert(isWgKey(secret) && secret !== first.publicKey);
      const again = await generateKeyPair(`${dir}/wg`);
      assertEquals(again, first);
      assertEquals((await Deno.readTextFile(first.privateKeyFile)).trim(), secret);
      const leftovers = [...Deno.readDirSync(`${dir}/wg`)].map((e) => e.name);
      assertEquals(leftovers, ["wg.key"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "generateKeyPair() run concurrently yields one key",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const pairs = await Promise.all([1, 2, 3, 4].map(() => generateKeyPair(dir)));
      assertEquals(new Set(pairs.map((p) => p.publicKey)).size, 1);
      assertEquals(await publicKeyOf(`${dir}/wg.key`), pairs[0].publicKey);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "generatePresharedKey() makes a 0600 key and tightens a too-open one",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = await generatePresharedKey(`${dir}/psk/peer`);
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
      const psk = await Deno.readTextFile(path);
      await Deno.chmod(path, 0o644);
      await generatePresharedKey(path);
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
      assertEquals(await Deno.readTextFile(path), psk);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "publicKeyOf() refuses a missing or malformed key file without echoing it",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await assertRejects(() => publicKeyOf(`${dir}/none`), WireGuardError, "does not exist");
      await Deno.writeTextFile(`${dir}/bad`, "secret-but-not-a-key\n", { mode: 0o600 });
      const err = await assertRejects(
        () => publicKeyOf(`${dir}/bad`),
        WireGuardError,
        "not a WireGuard key",
      );
      assert(!err.message.includes("secret-but-not-a-key"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "keys made in process are what wg genkey makes: clamped, with the public key wg pubkey derives",
  ignore,
  async fn() {
    for (let i = 0; i < 20; i++) {
      const secret = newWgPrivateKey();
      const k = Uint8Array.fromBase64(secret);
      assertEquals([k[0] & 7, k[31] & 128, k[31] & 64], [0, 0, 64], "clamped");
      const wg = await new Deno.Command("wg", { args: ["pubkey"], stdin: "piped", stdout: "piped" })
        .spawn();
      const writer = wg.stdin.getWriter();
      await writer.write(new TextEncoder().encode(secret + "\n"));
      await writer.close();
      const out = new TextDecoder().decode((await wg.output()).stdout).trim();
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeTextFile(`${dir}/k`, secret + "\n", { mode: 0o600 });
        assertEquals(await publicKeyOf(`${dir}/k`), out);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});
