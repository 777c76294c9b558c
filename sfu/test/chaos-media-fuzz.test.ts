import { expect, it } from "vitest";
import { R8_MIN_MEDIA_SHARE, runR8 } from "@/bench/chaos/r8-media-fuzz";

/**
 * R8 of the fault matrix (issue 9), CI's 30-second variant (`npm run chaos -- --long`
 * runs 5 minutes): random and mutated RTP, RTCP, STUN and DTLS at the SFU's media ports
 * during a call. Media goes on every second and the SFU's memory stays flat.
 */
it("R8: a call's media and the SFU's memory hold under 30 s of fuzzed datagrams", async () => {
  const result = await runR8();
  expect(result.failures).toEqual([]);
  expect(Number(result.figures.worstSecondPacketsPerS)).toBeGreaterThanOrEqual(
    Number(result.figures.baselinePacketsPerS) * R8_MIN_MEDIA_SHARE,
  );
}, 90_000);
