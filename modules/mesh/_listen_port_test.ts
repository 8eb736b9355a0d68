import { assertEquals, assertRejects } from "../../kernel/_testing_assert.ts";
import { createSocket } from "node:dgram";
import { MembershipError } from "../membership/mod.ts";
import { freeListenPort, udpPortFree } from "./_listen_port.ts";

Deno.test("freeListenPort() skips ports of other nets and ports held on the machine", async () => {
  const held = new Set([51822]);
  const isFree = (port: number) => Promise.resolve(!held.has(port));
  assertEquals(await freeListenPort(new Set(), { isFree }), 51820);
  assertEquals(await freeListenPort(new Set([51820, 51821]), { isFree }), 51823);
  await assertRejects(
    () => freeListenPort(new Set([51820, 51821]), { isFree, tries: 3 }),
    MembershipError,
    "--listen-port",
  );
});

Deno.test("udpPortFree() is false for a port a socket holds, true once it is closed", async () => {
  const socket = createSocket("udp4");
  const port = await new Promise<number>((resolve) =>
    socket.bind(0, "0.0.0.0", () => resolve(socket.address().port))
  );
  assertEquals(await udpPortFree(port), false);
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  assertEquals(await udpPortFree(port), true);
});
