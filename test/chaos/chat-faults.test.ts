import { describe, expect, it } from "vitest";
import { runR3 } from "@/bench/chaos/r3-offline-catch-up";
import { runR5 } from "@/bench/chaos/r5-same-client-id";
import { testDbKinds } from "@/test/support/db";

/**
 * The chat rows of the fault matrix (issue 9) that fit CI, run in process as `npm run
 * chaos` runs them (bench/chaos/): the row's failures, in words, are the assertion.
 */
describe.each(testDbKinds())("chat faults on %s", (kind) => {
  it("R5: a client id sent again with another body returns the original and changes nothing", async () => {
    const result = await runR5(kind);
    expect(result.failures).toEqual([]);
    expect(result.figures.answeredWithOriginal).toBe(11);
  });

  it("R3: clients back from offline catch up on 300 messages completely, in order, p95 < 2 s", async () => {
    const result = await runR3(kind);
    expect(result.failures).toEqual([]);
    expect(result.figures.incompleteRooms).toBe(0);
  }, 120_000);
});
