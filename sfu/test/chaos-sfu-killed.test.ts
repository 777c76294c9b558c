import { expect, it } from "vitest";
import { R6_LIMIT_MS, runR6 } from "@/bench/chaos/r6-sfu-killed";

/**
 * R6 of the fault matrix (issue 9), as `npm run chaos` runs it: the SFU child killed with
 * SIGKILL mid-call; the web node's SfuProcess restarts it and the callers rejoin by
 * themselves, media flowing both ways again within 5 s of the kill.
 */
it("R6: callers are back in the call within 5 s of the SFU being killed", async () => {
  const result = await runR6();
  expect(result.failures).toEqual([]);
  expect(result.figures.backInCallMs).toBeLessThan(R6_LIMIT_MS);
}, 60_000);
