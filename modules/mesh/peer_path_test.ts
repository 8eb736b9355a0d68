import { assert, assertEquals } from "../../kernel/_testing_assert.ts";
import {
  PATH_TIMERS,
  type PathAction,
  type PathFacts,
  PeerPath,
  UNKNOWN_PEER_WAIT_MS,
} from "./peer_path.ts";

const T0 = 1_800_000_000_000;
const T = PATH_TIMERS;

/** Facts with nothing heard and nothing to punch with, overridden by `f`. */
function facts(f: Partial<PathFacts> = {}): PathFacts {
  return { handshakeAt: 0, heardAt: 0, canPunch: false, ...f };
}

/** Ticks once a second from `from` to `to` (inclusive) with `f`; the actions returned. */
function run(
  path: PeerPath,
  from: number,
  to: number,
  f: (now: number) => PathFacts,
): PathAction[] {
  const out: PathAction[] = [];
  for (let now = from; now <= to; now += 1000) {
    const a = path.tick(f(now), now);
    if (a) out.push(a);
  }
  return out;
}

Deno.test("PeerPath: a peer that answers at its announced endpoint stays direct, with nothing to do", () => {
  const p = new PeerPath("arranger", T0);
  assertEquals(run(p, T0, T0 + 60_000, (now) => facts({ handshakeAt: T0 + 50, heardAt: now })), []);
  assertEquals(p.describe(T0 + 60_000), { path: "direct" });
  assertEquals(p.endpoint("127.0.0.1:9"), undefined); // the announced one
});

Deno.test("PeerPath: a session already fresh at start counts as direct, unless it ends at a loopback relay", () => {
  const fresh = new PeerPath("arranger", T0);
  assertEquals(
    fresh.tick(facts({ handshakeAt: T0 - 30_000, endpoint: "192.0.2.1:51820" }), T0),
    undefined,
  );
  assertEquals(fresh.describe(T0).path, "direct");
  const stale = new PeerPath("arranger", T0);
  stale.tick(facts({ handshakeAt: T0 - 30_000, endpoint: "127.0.0.1:40000" }), T0);
  assertEquals(stale.describe(T0).path, "connecting"); // a relay end from an agent that is gone
});

Deno.test("PeerPath: no handshake at the announced endpoint: punch when both ends can, else relay", () => {
  const punching = new PeerPath("arranger", T0);
  const acts = run(punching, T0, T0 + T.directMs + 1000, () => facts({ canPunch: true }));
  assertEquals(acts, [{ kind: "punch", upgrade: false }]);
  const relaying = new PeerPath("arranger", T0);
  assertEquals(run(relaying, T0, T0 + T.directMs + 1000, () => facts()), [{ kind: "relay" }]);
  // While the service carries it out, nothing more is asked.
  assertEquals(run(relaying, T0 + T.directMs + 2000, T0 + T.directMs + 20_000, () => facts()), []);
});

Deno.test("PeerPath: the arranger kicks a stagger after the go; a handshake makes it punched", () => {
  const p = new PeerPath("arranger", T0);
  run(p, T0, T0 + T.directMs + 1000, () => facts({ canPunch: true }));
  const go = T0 + 6500;
  p.punching(
    { helper: "h", attempt: 7, candidate: "198.51.100.4:51820", kickAt: go + T.staggerMs },
    go,
    false,
  );
  assertEquals(p.endpoint(), undefined, "the announced endpoint until this end sends");
  assertEquals(p.tick(facts(), go + 500), undefined);
  assertEquals(p.tick(facts(), go + T.staggerMs), { kind: "kick", endpoint: "198.51.100.4:51820" });
  assertEquals(p.endpoint(), "198.51.100.4:51820");
  assertEquals(p.tick(facts({ handshakeAt: go + 1100, heardAt: go + 1100 }), go + 2000), undefined);
  assertEquals([p.stage, p.describe(go + 2000).path], ["punched", "punched"]);
  assertEquals(p.failures, 0);
});

Deno.test("PeerPath: a punch with no handshake in time falls back to a relay, and backs off the next try", () => {
  const p = new PeerPath("arranger", T0);
  run(p, T0, T0 + T.directMs + 1000, () => facts({ canPunch: true }));
  const go = T0 + 6500;
  p.punching(
    { helper: "h", attempt: 1, candidate: "198.51.100.4:51820", kickAt: go + 1000 },
    go,
    false,
  );
  const acts = run(p, go + 1000, go + T.punchMs + 1000, () => facts({ canPunch: true }));
  assertEquals(acts, [{ kind: "kick", endpoint: "198.51.100.4:51820" }, { kind: "relay" }]);
  assertEquals(p.failures, 1);
  assert(p.nextUpgradeAt >= go + T.punchMs + T.upgradeMs - 1000, "next direct try a minute on");
});

Deno.test("PeerPath: relayed, it tries to go direct later; traffic on the direct path keeps it there", () => {
  const p = new PeerPath("arranger", T0);
  p.relayed({ via: "r", circuit: 5 }, T0);
  assertEquals(p.endpoint("127.0.0.1:4000"), "127.0.0.1:4000");
  assertEquals(p.tick(facts({ heardAt: T0 + 100, canPunch: true }), T0 + 1000), undefined);
  assertEquals(p.describe(T0 + 1000), { path: "relay", via: "r" });
  // Quiet until the upgrade time, then one try.
  const upgradeAt = T0 + T.upgradeMs;
  const heard = (now: number) => facts({ heardAt: now - 500, canPunch: true });
  assertEquals(run(p, T0 + 2000, upgradeAt - 1000, heard), []);
  assertEquals(p.tick(heard(upgradeAt), upgradeAt), { kind: "punch", upgrade: true });
  p.punching(
    { helper: "r", attempt: 2, candidate: "198.51.100.4:51820", kickAt: upgradeAt },
    upgradeAt,
    true,
  );
  assertEquals(p.endpoint("127.0.0.1:4000"), "127.0.0.1:4000", "relayed until this end moves");
  assertEquals(p.tick(heard(upgradeAt), upgradeAt), {
    kind: "kick",
    endpoint: "198.51.100.4:51820",
  });
  assertEquals(p.describe(upgradeAt).path, "relay", "still relayed while it tries");
  const confirm = upgradeAt + T.confirmMs;
  const act = p.tick(facts({ heardAt: confirm - 100, endpoint: "198.51.100.4:51820" }), confirm);
  assertEquals(act, { kind: "upgraded" });
  assertEquals([p.stage, p.endpoint("127.0.0.1:4000")], ["punched", "198.51.100.4:51820"]);
});

Deno.test("PeerPath: a try to go direct that sees no traffic reverts to the relay and waits twice as long", () => {
  const p = new PeerPath("arranger", T0);
  p.relayed({ via: "r", circuit: 5 }, T0);
  p.tick(facts({ heardAt: T0 + 1, canPunch: true }), T0 + 1000);
  const at = T0 + T.upgradeMs;
  p.tick(facts({ heardAt: at - 1, canPunch: true }), at);
  p.punching({ helper: "r", attempt: 2, candidate: "198.51.100.4:51820", kickAt: at }, at, true);
  p.tick(facts({ heardAt: at - 1, canPunch: true }), at);
  // WireGuard was pulled back to the relay: the endpoint is not the candidate.
  const act = p.tick(
    facts({ heardAt: at + 2000, endpoint: "127.0.0.1:4000", canPunch: true }),
    at + T.confirmMs,
  );
  assertEquals(act, { kind: "revert" });
  assertEquals([p.stage, p.established, p.failures], ["relay", true, 1]);
  assertEquals(p.nextUpgradeAt, at + T.confirmMs + T.upgradeMs);
  const again = p.nextUpgradeAt;
  p.tick(facts({ heardAt: again - 1, canPunch: true }), again);
  p.punching(
    { helper: "r", attempt: 3, candidate: "198.51.100.4:51820", kickAt: again },
    again,
    true,
  );
  p.tick(facts({ heardAt: again - 1, canPunch: true }), again);
  p.tick(
    facts({ heardAt: again - 1, endpoint: "127.0.0.1:4000", canPunch: true }),
    again + T.confirmMs,
  );
  assertEquals(p.nextUpgradeAt, again + T.confirmMs + 2 * T.upgradeMs);
});

Deno.test("PeerPath: the wait between tries to go direct is capped", () => {
  const p = new PeerPath("arranger", T0);
  p.relayed({ via: "r", circuit: 1 }, T0);
  for (let i = 0; i < 20; i++) p.noPunch("nobody can help", T0);
  assertEquals(p.nextUpgradeAt, T0 + T.upgradeMaxMs);
});

Deno.test("PeerPath: a relay circuit that carries nothing, or is lost, is replaced", () => {
  const p = new PeerPath("arranger", T0);
  p.relayed({ via: "r1", circuit: 1 }, T0);
  const acts = run(p, T0 + 1000, T0 + T.relayMs + 1000, () => facts());
  assertEquals(acts, [{ kind: "relay", failed: "r1" }]);
  p.relayed({ via: "r2", circuit: 2 }, T0 + 10_000);
  p.tick(facts({ heardAt: T0 + 10_100 }), T0 + 11_000);
  assert(p.established);
  p.relayLost("someone-else");
  assertEquals(p.tick(facts({ heardAt: T0 + 11_500 }), T0 + 12_000), undefined);
  p.relayLost("r2");
  assertEquals(p.tick(facts({ heardAt: T0 + 11_500 }), T0 + 12_000), { kind: "relay", lost: "r2" });
});

Deno.test("PeerPath: a path that received nothing for staleMs starts over at the announced endpoint", () => {
  const p = new PeerPath("arranger", T0);
  p.tick(facts({ handshakeAt: T0, heardAt: T0 }), T0 + 1000);
  assertEquals(p.describe(T0 + 1000).path, "direct");
  const acts = run(
    p,
    T0 + 2000,
    T0 + T.staleMs + 2000,
    () => facts({ handshakeAt: T0, heardAt: T0 }),
  );
  assertEquals(acts, [{ kind: "restart", why: "stale" }]);
  assertEquals(p.describe(T0 + T.staleMs + 2000).path, "connecting");
});

Deno.test("PeerPath: unreachable says why, retries later, sooner when a relay may come, and at once on news", () => {
  const p = new PeerPath("arranger", T0);
  p.noRelay("no relay: r1: This node does not relay (--no-relay)", T0);
  assertEquals(p.describe(T0), {
    path: "unreachable",
    why: "no relay: r1: This node does not relay (--no-relay)",
  });
  assertEquals(run(p, T0, T0 + T.retryMs - 1000, () => facts()), []);
  assertEquals(p.tick(facts(), T0 + T.retryMs), { kind: "restart", why: "retry" });
  // A retry gives the announced endpoint only a short while.
  assertEquals(run(p, T0 + T.retryMs + 1000, T0 + T.retryMs + 2000, () => facts()), [{
    kind: "relay",
  }]);
  const soon = new PeerPath("arranger", T0);
  soon.noRelay("no relay: r1: not linked yet", T0, 3000);
  assertEquals(soon.tick(facts(), T0 + 3000), { kind: "restart", why: "retry" });
  const news = new PeerPath("arranger", T0);
  news.noRelay("nobody", T0);
  news.retrySoon();
  assertEquals(news.tick(facts(), T0 + 1), { kind: "restart", why: "retry" });
});

Deno.test("PeerPath: the follower does what it is told, never starts anything, and says when it has no path", () => {
  const f = new PeerPath("follower", T0);
  assertEquals(run(f, T0, T0 + 120_000, () => facts()), []);
  assertEquals(f.describe(T0 + 10_000).path, "connecting");
  assertEquals(f.describe(T0 + 30_000).path, "unreachable");
  f.told(
    { helper: "h", attempt: 1, candidate: "198.51.100.3:51820", kickAt: T0 },
    T0 + 120_000,
    false,
  );
  assertEquals(f.endpoint(), "198.51.100.3:51820");
  f.tick(facts({ heardAt: T0 + 121_000 }), T0 + 121_500);
  assertEquals(f.describe(T0 + 121_500).path, "punched");
  f.offered({ via: "r", circuit: 9 }, T0 + 200_000);
  assertEquals(f.endpoint("127.0.0.1:5000"), "127.0.0.1:5000");
  f.tick(facts({ heardAt: T0 + 200_500 }), T0 + 201_000);
  assertEquals(f.describe(T0 + 201_000), { path: "relay", via: "r" });
  // Its relay went away: no packets since, so after a while it says unreachable, and why. A count
  // of packets read after the loss (they arrived before it) does not bring it back.
  f.relayLost("r", T0 + 201_500);
  f.tick(facts({ heardAt: T0 + 202_000 }), T0 + 202_000);
  assertEquals(f.describe(T0 + 210_000).path, "connecting");
  const later = f.describe(T0 + 240_000);
  assertEquals(later.path, "unreachable");
  assert(/relay went away/.test(later.why!));
});

Deno.test("PeerPath: a follower told to go direct while relayed reverts if the verdict never comes", () => {
  const f = new PeerPath("follower", T0);
  f.offered({ via: "r", circuit: 9 }, T0);
  f.told(
    { helper: "r", attempt: 4, candidate: "198.51.100.3:51820", kickAt: T0 + 1000 },
    T0 + 1000,
    true,
  );
  assertEquals(f.endpoint("127.0.0.1:5000"), "198.51.100.3:51820");
  assertEquals(run(f, T0 + 2000, T0 + 13_000, () => facts({ heardAt: T0 + 500 })), []);
  assertEquals(f.tick(facts({ heardAt: T0 + 500 }), T0 + 15_000), { kind: "revert" });
  assertEquals(f.endpoint("127.0.0.1:5000"), "127.0.0.1:5000");
  // With a verdict in time it moves for good.
  const g = new PeerPath("follower", T0);
  g.offered({ via: "r", circuit: 9 }, T0);
  g.told({ helper: "r", attempt: 4, candidate: "198.51.100.3:51820", kickAt: T0 }, T0, true);
  g.verdict(true, T0 + 3000);
  assertEquals([g.stage, g.endpoint("127.0.0.1:5000")], ["punched", "198.51.100.3:51820"]);
});

Deno.test("PeerPath: a relayed pair that cannot punch still tries to go direct, at the longest interval after a failure", () => {
  const p = new PeerPath("arranger", T0);
  p.relayed({ via: "r", circuit: 1 }, T0);
  const heard = (now: number) => facts({ heardAt: now - 100 }); // canPunch false
  assertEquals(run(p, T0 + 1000, T0 + T.upgradeMs - 1000, heard), []);
  const at = T0 + T.upgradeMs;
  assertEquals(p.tick(heard(at), at), { kind: "punch", upgrade: true });
  p.noPunch("no candidates", at);
  assertEquals([p.stage, p.nextUpgradeAt], ["relay", at + T.upgradeMaxMs]);
});

Deno.test("PeerPath: an unreachable peer that reaches us by itself is kept, not restarted", () => {
  const p = new PeerPath("arranger", T0);
  p.noRelay("nobody relays", T0);
  assertEquals(p.tick(facts({ heardAt: T0 + 2000, handshakeAt: T0 + 2000 }), T0 + 3000), undefined);
  assertEquals([p.stage, p.describe(T0 + 3000).path], ["direct", "direct"]);
  assertEquals(run(p, T0 + 4000, T0 + T.retryMs + 5000, (now) => facts({ heardAt: now })), []);
});

Deno.test("PeerPath: failures in a row back off (a member off for the night costs little); news is throttled", () => {
  const p = new PeerPath("arranger", T0);
  const waits: number[] = [];
  let now = T0;
  for (let i = 0; i < 8; i++) {
    p.noRelay("not linked", now, 3000); // a relay says: not linked to the peer (yet)
    waits.push(p.retryAt - now);
    now = p.retryAt;
    p.tick(facts(), now); // restart
    now += 2000;
    p.tick(facts(), now); // the short direct try fails: relay again
  }
  assertEquals(waits, [3000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000]);
  p.noRelay("not linked", now, 3000);
  p.retrySoon(now);
  assertEquals(p.retryAt, 0);
  p.tick(facts(), now); // restart
  p.tick(facts(), now + 2000);
  p.noRelay("not linked", now + 2000, 3000);
  p.retrySoon(now + 5000); // within 10 s of the last: ignored
  assert(p.retryAt > now + 5000);
});

Deno.test("PeerPath: the direct try waits for the peer to hold this node's admit (a burst of joins), at most UNKNOWN_PEER_WAIT_MS", () => {
  // The peer learns of this node 8 s in: the direct try gets its whole time from then on.
  const late = new PeerPath("arranger", T0);
  const knownAt = T0 + 8000;
  const f = (now: number) => facts({ canPunch: true, knowsUs: now >= knownAt });
  assertEquals(run(late, T0, knownAt + T.directMs - 1000, f), []);
  assertEquals(run(late, knownAt + T.directMs, knownAt + T.directMs, f), [{
    kind: "punch",
    upgrade: false,
  }]);
  // A peer that never says it holds the admit: direct, then the punch, once the cap is over.
  const never = new PeerPath("arranger", T0);
  const unknown = () => facts({ knowsUs: false });
  assertEquals(run(never, T0, T0 + UNKNOWN_PEER_WAIT_MS - 1000, unknown), []);
  assertEquals(run(never, T0 + UNKNOWN_PEER_WAIT_MS, T0 + UNKNOWN_PEER_WAIT_MS, unknown), [{
    kind: "relay",
  }]);
  // Nothing known either way (no grid link to ask over): the usual direct time.
  const unsaid = new PeerPath("arranger", T0);
  assertEquals(run(unsaid, T0, T0 + T.directMs, () => facts({ canPunch: true })), [{
    kind: "punch",
    upgrade: false,
  }]);
});
