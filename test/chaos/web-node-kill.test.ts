import { describe, expect, it } from "vitest";
import { runR1 } from "@/bench/chaos/r1-web-node-killed";
import { testDbKinds } from "@/test/support/db";

/**
 * R1 of the fault matrix (issue 9), CI's short variant: the web node, a child process, is
 * killed with SIGKILL twice while 10 clients send 400 messages (`npm run chaos -- --long`
 * runs 5,000 from 50 with three kills).
 */
describe.each(testDbKinds())("the web node killed during sends on %s", (kind) => {
  it("R1: loses nothing acked, stores nothing twice, keeps every room's seq gap-free, drains every outbox", async () => {
    const result = await runR1(kind);
    expect(result.failures).toEqual([]);
    expect(result.figures).toMatchObject({
      faults: 2,
      ackedButLost: 0,
      duplicates: 0,
      roomsWithSeqGaps: 0,
    });
  }, 180_000);
});
