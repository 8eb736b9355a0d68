import { assertEquals } from "../_testing_assert.ts";
import { type LivenessState, type LivenessStep, livenessStep } from "./_liveness.ts";

const TIMING = { intervalMs: 2_000, deadAfterMs: 6_000 };

Deno.test("livenessStep() has only the dialer ping a quiet link, and either end cut a silent one", async (t) => {
  const rows: [string, LivenessState, LivenessStep][] = [
    [
      "a dialer on a quiet link pings",
      { role: "dialer", heardMs: 1_990, recordInMs: Infinity, recordOutMs: Infinity },
      "ping",
    ],
    [
      "a listener on a quiet link waits for the dialer's ping",
      { role: "listener", heardMs: 1_990, recordInMs: Infinity, recordOutMs: Infinity },
      "wait",
    ],
    [
      "a dialer whose records just went both ways waits",
      { role: "dialer", heardMs: 10, recordInMs: 10, recordOutMs: 999 },
      "wait",
    ],
    [
      "a dialer that only sent records pings (the peer may not be reading)",
      { role: "dialer", heardMs: 500, recordInMs: Infinity, recordOutMs: 10 },
      "ping",
    ],
    [
      "a dialer that only received records pings (the peer may not hear us)",
      { role: "dialer", heardMs: 10, recordInMs: 10, recordOutMs: Infinity },
      "ping",
    ],
    [
      "a dialer whose last records both ways are half an interval old pings",
      { role: "dialer", heardMs: 1_000, recordInMs: 1_000, recordOutMs: 1_000 },
      "ping",
    ],
    [
      "a listener whose dialer's pings are overdue asks itself",
      { role: "listener", heardMs: 3_500, recordInMs: Infinity, recordOutMs: Infinity },
      "ping",
    ],
    [
      "a listener still pings at the dead bound",
      { role: "listener", heardMs: 6_000, recordInMs: 6_000, recordOutMs: 10 },
      "ping",
    ],
    [
      "a dialer that heard nothing past the dead bound cuts",
      { role: "dialer", heardMs: 6_001, recordInMs: 10_000, recordOutMs: 10 },
      "cut",
    ],
    [
      "a listener that heard nothing past the dead bound cuts",
      { role: "listener", heardMs: 6_001, recordInMs: Infinity, recordOutMs: Infinity },
      "cut",
    ],
  ];
  for (const [name, state, want] of rows) {
    await t.step(name, () => assertEquals(livenessStep(state, TIMING), want));
  }
});

Deno.test("livenessStep(): a live listener is never cut, whatever the dialer's phase", () => {
  // The dialer pings at every tick unless records went both ways in the last half
  // interval; so the listener hears from it at least every 1.5 intervals, and never
  // reaches its own ping threshold (1.75 intervals), let alone the dead bound.
  for (let sent = 0; sent < TIMING.intervalMs; sent += 50) {
    // A record each way at `sent`, the dialer's ticks at 0, 2000, 4000, ...
    let heardAt = sent;
    for (let tick = 2_000; tick <= 8_000; tick += 2_000) {
      const ago = tick - sent;
      const step = livenessStep(
        { role: "dialer", heardMs: tick - heardAt, recordInMs: ago, recordOutMs: ago },
        TIMING,
      );
      assertEquals(step === "cut", false);
      if (step === "ping") {
        const gap = tick - heardAt;
        assertEquals(gap <= 1.5 * TIMING.intervalMs, true, `gap ${gap} ms after ${sent}`);
        heardAt = tick;
      }
    }
  }
});
