import { expect, type Page, test } from "@playwright/test";
import { expectMovingVideo, joinCall, tile } from "./call-support";
import { joinAsGuest, newRoom, signUp } from "./support";

/**
 * Call quality you can see (issue 8): on a clean loopback link each person's tile of the
 * other says `Good`, and its details show what arrives — a bitrate and a resolution.
 */
// As in call.spec.ts: the trace's screencast starves remote video of paints on two cores.
test.use({ trace: { mode: "retain-on-failure", screenshots: false } });

test("two people in a call see Good on each other's tile and its live details", async ({
  page: ada,
  browser,
}) => {
  test.setTimeout(120_000);
  await signUp(ada, "Ada");
  const path = await newRoom(ada);
  const grace = await joinAsGuest(browser, path, "Grace");
  await joinCall(ada);
  await joinCall(grace.page);

  const pairs: [Page, string][] = [
    [ada, "Grace"],
    [grace.page, "Ada"],
  ];
  for (const [page, other] of pairs) await expectMovingVideo(page, other);
  for (const [page, other] of pairs) {
    // Polled through its description, so that a failure says what it showed instead, and why.
    const quality = tile(page, other).getByRole("img", { name: /^(Good|Weak|Bad)$/ });
    await expect
      .poll(() => quality.getAttribute("title", { timeout: 1_000 }).catch(() => "no indicator"), {
        timeout: 20_000,
      })
      .toBe("Connection quality: Good");
    await expect(tile(page, other).getByRole("img", { name: "Good", exact: true })).toBeVisible();
    // Your own tile has no indicator: it measures what you receive.
    await expect(tile(page, "You").getByRole("img", { name: /^(Good|Weak|Bad)$/ })).toHaveCount(0);
    await expectDetails(page, other);
  }
  await grace.context.close();
});

/** Opens the other's details from the keyboard, reads them, and closes them with Esc. */
async function expectDetails(page: Page, other: string): Promise<void> {
  const open = tile(page, other).getByRole("button", { name: `Connection details for ${other}` });
  const details = page.getByRole("dialog", { name: `Connection details for ${other}` });
  await expect(details).toBeHidden();
  await open.focus();
  await page.keyboard.press("Enter");
  await expect(details).toBeVisible();
  const value = (label: string) =>
    details
      .locator("div", { has: page.locator("dt", { hasText: label }) })
      .locator("dd")
      .first();
  // Live: the figures are of the last second and keep coming.
  await expect(value("Bitrate")).toHaveText(/^(?!0 kbps)\d+(\.\d)? (kbps|Mbps)$/);
  await expect(value("Resolution")).toHaveText(/^[1-9]\d*×[1-9]\d*$/);
  await expect(value("Frame rate")).toHaveText(/^[1-9]\d* fps$/);
  await expect(value("Packet loss")).toHaveText(/^\d+\.\d %$/);
  await expect(value("Round trip")).toHaveText(/^\d+ ms$/);
  await expect(details.getByRole("img", { name: /^Bitrate over the last minute: / })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(details).toBeHidden();
}
