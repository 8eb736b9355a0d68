/**
 * A malicious member for the insider tests: it loads a member's own identity
 * from its grid home (the attacker holds its own key), signs whatever it
 * likes with grid's own record code, and pushes it to an agent over a real
 * authenticated peer link. Run inside the attacker's namespace while its
 * own agent is stopped:
 *
 *   deno run -A tests/lab/rogue.ts HOME PEER_URL NET ATTACK [ARG...]
 *
 * It prints one JSON line: what it sent and what the agent answered.
 *
 * @module
 */
import {
  CID,
  generateIdentity,
  hashBytes,
  type Identity,
  loadIdentity,
  type Parms,
  readAnswer,
  reject,
} from "../../kernel/mod.ts";
import { PeerHub } from "../../kernel/peers/mod.ts";
import {
  parseRecord,
  signAnnouncement,
  signMemberRequest,
  signRecord,
} from "../../modules/membership/mod.ts";
import {
  announceMessage,
  joinMessage,
  pushMessage,
  syncMessage,
} from "../../modules/membership/protocol.ts";
import { newWgPrivateKey, signWithWgKey, wgPublicKeyOf } from "../../modules/wireguard/mod.ts";
import { JOIN_PROMISE_HASH } from "../../modules/mesh/mod.ts";
import type { MemberRecord } from "../../modules/membership/mod.ts";

/** The attacker's view of the net: its records on disk, parsed. */
async function readNet(home: string, name: string) {
  const dir = `${home}/state/nets/${name}`;
  const settings = JSON.parse(await Deno.readTextFile(`${dir}/settings.json`));
  const records: MemberRecord[] = [];
  for await (const e of Deno.readDir(`${dir}/records`)) {
    if (!e.isFile || e.name.startsWith(".")) continue;
    records.push(await parseRecord(await Deno.readFile(`${dir}/records/${e.name}`), settings.net));
  }
  return { net: settings.net as string, records };
}

/** A sybil: a fresh identity and WireGuard key, and a request it signs. */
async function sybilRequest(net: string, netName: string, wg?: string, invite?: Uint8Array) {
  const identity = await generateIdentity();
  const secret = newWgPrivateKey();
  return await signMemberRequest(identity, {
    net,
    netName,
    name: `sybil-${identity.id.slice(-4)}`,
    wg: wg ?? wgPublicKeyOf(secret),
    promise: CID.parse(JOIN_PROMISE_HASH),
    time: Date.now(),
  }, {
    signWithWgKey: (m) => signWithWgKey(secret, m),
    invite: invite
      ? { bytes: invite, seed: crypto.getRandomValues(new Uint8Array(32)) }
      : undefined,
  }).catch((err) => err as Error);
}

async function connect(identity: Identity, url: string): Promise<{ hub: PeerHub; peer: string }> {
  const hub = new PeerHub({
    identity,
    handler: () => Promise.resolve(reject("denied", "a rogue answers nothing")),
  });
  hub.dial(url);
  const deadline = Date.now() + 15_000;
  while (hub.connected().length === 0) {
    if (Date.now() > deadline) throw new Error(`Cannot reach ${url}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { hub, peer: hub.connected()[0].id };
}

function answerOf(reply: Parms): unknown {
  const r = readAnswer(reply);
  return r.ok ? { ok: true, payload: r.payload.map((p) => typeof p === "object" ? "..." : p) } : r;
}

async function main(): Promise<void> {
  const [home, url, name, attack, ...args] = Deno.args;
  const identity = await loadIdentity(`${home}/state/identity`);
  const { net, records } = await readNet(home, name);
  const own = records.find((r) => r.kind === "admit" && r.request.id === identity.id)!;
  const admitOf = (id: string) => records.find((r) => r.kind === "admit" && r.request.id === id);
  const { hub, peer } = await connect(identity, url);
  const out: Record<string, unknown> = { attack };
  const push = async (bytes: Uint8Array[]) =>
    answerOf(await hub.request(peer, pushMessage(net, bytes)));
  try {
    switch (attack) {
      case "backdate-admit": {
        // A sybil at the victim's address, attached to the attacker's own admit.
        const [address] = args;
        const req = await sybilRequest(net, name);
        if (req instanceof Error) throw req;
        const rec = await signRecord(identity, { kind: "admit", request: req, address }, {
          net,
          parents: [own.id],
        });
        out.record = rec.id;
        out.reply = await push([rec.bytes]);
        break;
      }
      case "claim-key": {
        // A sybil claiming the victim's WireGuard key: the request cannot prove it.
        const [wg] = args;
        const req = await sybilRequest(net, name, wg);
        out.request = req instanceof Error ? req.message : "signed";
        break;
      }
      case "revoke": {
        // The attacker revokes a member (the founder, say) "in the past".
        const [target] = args;
        const admit = admitOf(target);
        if (!admit) throw new Error(`no admit of ${target}`);
        const rec = await signRecord(identity, {
          kind: "revoked",
          member: target,
          admit: admit.id,
        }, { net, parents: [own.id, admit.id].sort() });
        out.record = rec.id;
        out.reply = await push([rec.bytes]);
        break;
      }
      case "harvest-invite": {
        // An invite copied out of an admit record, used for a fresh identity.
        const withInvite = records.find((r) => r.kind === "admit" && r.request.invite);
        if (!withInvite || withInvite.kind !== "admit") throw new Error("no invite in records");
        const req = await sybilRequest(net, name, undefined, withInvite.request.invite!.bytes);
        if (req instanceof Error) {
          out.request = req.message;
          break;
        }
        out.reply = answerOf(await hub.request(peer, joinMessage(req.bytes)));
        break;
      }
      case "flood-announcements": {
        const count = Number(args[0]);
        let kept = 0;
        const start = Date.now();
        for (let i = 0; i < count; i += 100) {
          const batch: Uint8Array[] = [];
          for (let j = i; j < Math.min(count, i + 100); j++) {
            const a = await signAnnouncement(identity, net, start + j, {
              endpoint: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}:51820`,
              url: `ws://10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}:7340`,
            });
            batch.push(a.bytes);
          }
          const r = readAnswer(await hub.request(peer, announceMessage(net, batch)));
          if (r.ok && typeof r.payload[0] === "number") kept += r.payload[0];
        }
        out.sent = count;
        out.kept = kept;
        break;
      }
      case "flood-records": {
        // Junk of every kind: records waiting on parents nobody has, the attacker's own
        // role grants and revokes of the founder (void).
        const count = Number(args[0]);
        const founder = records.find((r) => r.kind === "genesis")!.author;
        const founderAdmit = admitOf(founder)!;
        let refused = 0;
        for (let i = 0; i < count; i += 100) {
          const batch: Uint8Array[] = [];
          for (let j = i; j < Math.min(count, i + 100); j++) {
            const missing = hashBytes(crypto.getRandomValues(new Uint8Array(16))).toString();
            const kind = j % 3;
            const rec = kind === 0
              ? await signRecord(identity, {
                kind: "revoked",
                member: founder,
                admit: founderAdmit.id,
              }, {
                net,
                parents: [missing],
                time: Date.now() + j,
              })
              : kind === 1
              ? await signRecord(identity, {
                kind: "role",
                member: identity.id,
                admit: own.id,
                role: "admin",
                slice: "10.0.0.0/30",
              }, { net, parents: [own.id], time: Date.now() + j })
              : await signRecord(identity, {
                kind: "revoked",
                member: founder,
                admit: founderAdmit.id,
              }, { net, parents: [own.id, founderAdmit.id].sort(), time: Date.now() + j });
            batch.push(rec.bytes);
          }
          const r = readAnswer(await hub.request(peer, pushMessage(net, batch)));
          if (!r.ok) refused++;
        }
        out.sent = count;
        out.refusedMessages = refused;
        break;
      }
      case "sync": {
        out.reply = answerOf(await hub.request(peer, syncMessage(net, [])));
        break;
      }
      default:
        throw new Error(`Unknown attack "${attack}"`);
    }
  } finally {
    await hub.close();
  }
  console.log(JSON.stringify(out));
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.log(JSON.stringify({ error: (err as Error).message }));
    Deno.exit(1);
  }
}
