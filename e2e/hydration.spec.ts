import { expect, type Page, test } from "@playwright/test";
import { messages, newRoom, send, signUp } from "./support";

/**
 * Pages are rendered on the server, in the server's locale and time zone (UTC here: the
 * web server runs with TZ=UTC), and hydrated in the browser's. A time formatted during
 * rendering would differ between the two and React would throw the page's markup away
 * ("Hydration failed", minified as error #418). This browser is fourteen hours ahead and
 * German, so every such time differs.
 */
test.use({ timezoneId: "Pacific/Kiritimati", locale: "de-DE" });

const HYDRATION_ERROR = /hydrat|#418|#419|#423|#425|did ?n[o']t match/i;

/** Every console error and uncaught page error from now on. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(`${e.name}: ${e.message}`));
  return errors;
}

/** What the browser itself makes of a time, in its own locale and zone. */
function localTime(page: Page, iso: string) {
  return page.evaluate(
    (at) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    iso,
  );
}

test("times rendered on the server hydrate without a mismatch and show in the viewer's zone", async ({
  page,
}) => {
  await signUp(page, "Ada");
  const path = await newRoom(page);
  await send(page, "What time is it?");
  await expect(messages(page)).toHaveCount(1);

  const errors = collectErrors(page);
  // The room page renders its history (with each message's time) on the server.
  await page.goto(path);
  const time = messages(page).first().locator("time");
  const iso = (await time.getAttribute("datetime"))!;
  await expect(time).toHaveText(await localTime(page, iso));
  expect(errors.filter((e) => HYDRATION_ERROR.test(e))).toEqual([]);
  // The home page renders each room's last message time on the server.
  await page.goto("/");
  const room = page.getByRole("main").getByRole("listitem").filter({ hasText: "Ada's room" });
  await expect(room.locator("time")).toHaveText(await localTime(page, iso));
  await expect(room.locator("time")).toHaveAttribute("datetime", iso);

  expect(errors.filter((e) => HYDRATION_ERROR.test(e))).toEqual([]);
});
