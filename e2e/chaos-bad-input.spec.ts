import { expect, test } from "@playwright/test";
import { runR7 } from "../bench/chaos/r7-bad-input";

/**
 * R7 of the fault matrix (issue 9) against the production server Playwright starts: the
 * bad-input corpus over every route under app/api, the socket protocol, tus and the SFU
 * signaling, with /api/health timed all along (bench/chaos/r7-bad-input.ts).
 */
test("R7: bad input gets clear errors, never a 5xx, and /api/health stays fast", async ({
  baseURL,
}) => {
  test.setTimeout(180_000);
  const result = await runR7(baseURL!);
  expect(result.failures).toEqual([]);
  expect(result.figures.http5xx).toBe(0);
});
