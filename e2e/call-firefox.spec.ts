import { expect, test } from "@playwright/test";
import type { Browser } from "puppeteer-core";
import { callRegion, expectLiveAudio, expectMovingVideo, joinCall, tile } from "./call-support";
import { byRole, firefoxGuest, firefoxJoinCall, firefoxPath, launchFirefox } from "./firefox";
import { newRoom, signUp } from "./support";

/**
 * Calls between Chromium (Playwright) and stock Firefox ESR (puppeteer-core over WebDriver
 * BiDi), media both ways: Firefox publishes to the SFU as DTLS client and subscribes with
 * the SFU offering.
 */
// The trace's screencast starves remote video of paints on two cores (frames decode, none
// show); traces keep their DOM snapshots.
test.use({ trace: { mode: "retain-on-failure", screenshots: false } });

test.describe("calls between Chromium and Firefox", () => {
  let firefox: Browser | undefined;

  // `npm test` finds or installs Firefox first (scripts/ensure-browsers.mjs); run alone
  // without one, this fails and says so rather than passing by skipping.
  test.beforeAll(async () => {
    const path = firefoxPath();
    if (!path)
      throw new Error(
        "no Firefox here: `node scripts/ensure-browsers.mjs firefox` finds or installs one",
      );
    firefox = await launchFirefox(path);
  });
  test.afterAll(async () => {
    await firefox?.close();
  });

  test("Chromium and Firefox see and hear each other, both ways", async ({
    page: ada,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    const grace = await firefoxGuest(firefox!, `${baseURL}${room}`, "Grace");

    await joinCall(ada);
    await firefoxJoinCall(grace);
    await Promise.all([
      expectMovingVideo(ada, "Grace"),
      expectMovingVideo(grace, "Ada"),
      expectMovingVideo(grace, "You"),
    ]);
    await Promise.all([expectLiveAudio(ada, "Grace"), expectLiveAudio(grace, "Ada")]);

    // Firefox leaving frees its tile in Chromium; Chromium's stays in Firefox until it leaves.
    await byRole(grace, "button", "Leave call").click();
    await byRole(grace, "button", "Join call").wait();
    await expect(tile(ada, "Grace")).toHaveCount(0);
    await expect(callRegion(ada).getByRole("group")).toHaveCount(1);
    await grace.browserContext().close();
  });
});
