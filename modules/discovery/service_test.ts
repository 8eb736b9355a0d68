import { assertEquals } from "../../kernel/_testing_assert.ts";
import { hashText, homeAt, loadIdentity } from "../../kernel/mod.ts";
import { Nets, signMemberRequest } from "../membership/mod.ts";
import { newWgPrivateKey, signWithWgKey, wgPublicKeyOf } from "../wireguard/mod.ts";
import { openNets } from "./service.ts";

Deno.test("openNets: the open nets this node is a member of, never an invite-only one", async () => {
  const root = await Deno.makeTempDir({ prefix: "grid-discovery-" });
  try {
    const home = homeAt(root);
    const identity = await loadIdentity(`${home.state}/identity`);
    const wgSecret = newWgPrivateKey();
    const nets = new Nets({ home, identity });
    const found = async (name: string, policy: "open" | "invite", n: number) =>
      await nets.create({
        name,
        cidr: `10.${n}.0.0/24`,
        policy,
        psk: false,
        interface: `gt${n}`,
        listenPort: 51820 + n,
        request: (net) =>
          signMemberRequest(identity, {
            net,
            netName: name,
            name: "founder",
            wg: wgPublicKeyOf(wgSecret),
            promise: hashText("join"),
            time: Date.now(),
          }, { signWithWgKey: (message) => signWithWgKey(wgSecret, message) }),
      });
    await found("foo", "open", 5);
    await found("bar", "invite", 6);
    const facts = openNets(nets, 7340, "ws://192.0.2.1:7340");
    assertEquals(facts, [{
      net: nets.get("foo")!.set.net.id,
      name: "foo",
      founder: identity.id,
      members: 1,
      url: "ws://192.0.2.1:7340",
      port: 7340,
    }]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
