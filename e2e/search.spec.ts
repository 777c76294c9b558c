import path from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { messages, newRoom, send, signUp } from "./support";

/** axe-core's findings on the page as it is now (WCAG 2.x A and AA rules). */
async function axeViolations(page: Page) {
  await page.addScriptTag({ path: path.resolve("node_modules/axe-core/axe.min.js") });
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            ctx: unknown,
            opts: unknown,
          ) => Promise<{
            violations: Array<{ id: string; help: string; nodes: Array<{ target: unknown }> }>;
          }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: {
        type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
      },
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      targets: v.nodes.map((n) => n.target),
    }));
  });
}

test("search finds a message, marks the words, and opens the room at it", async ({ page }) => {
  await signUp(page, "Ada");
  const roomPath = await newRoom(page);
  await send(page, "The capybara migration plan is ready for review");
  for (const filler of ["lunch at noon?", "sure", "see you there"]) await send(page, filler);
  await expect(messages(page)).toHaveCount(4);
  await expect(messages(page).filter({ hasText: "Sending" })).toHaveCount(0);

  // From any signed-in page: type, Enter.
  await page.goto("/");
  const box = page.getByRole("searchbox", { name: "Search" });
  // `/` is the way there from the keyboard.
  await page.getByRole("heading", { name: "Your rooms" }).click();
  await page.keyboard.press("/");
  await expect(box).toBeFocused();
  await page.keyboard.type("capybara plan");
  await expect(box).toHaveValue("capybara plan");
  await box.press("Enter");
  await expect(page).toHaveURL(/\/search\?q=capybara\+plan$/);

  const results = page.getByRole("list", { name: "Search results" });
  const hit = results.getByRole("link").filter({ hasText: "capybara" });
  await expect(hit).toHaveCount(1);
  await expect(hit.locator("mark")).toHaveText(["capybara", "plan"]);
  await expect(page.getByRole("main").getByRole("status")).toHaveText(
    /1 result for “capybara plan”/,
  );
  // The search stays in the box, to refine.
  await expect(page.getByRole("searchbox", { name: "Search" })).toHaveValue("capybara plan");

  expect(await axeViolations(page)).toEqual([]);

  // Keyboard: the result is a link; Enter opens the room at that message.
  await hit.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`${roomPath}\\?m=\\d+$`));
  await expect(messages(page).filter({ hasText: "The capybara migration plan" })).toBeVisible();

  // Back to the results; a search that cannot be run says why.
  await page.goBack();
  await expect(results.getByRole("link")).toHaveCount(1);
  await page.getByRole("searchbox", { name: "Search" }).fill("capybara in:nowhere");
  await page.getByRole("searchbox", { name: "Search" }).press("Enter");
  await expect(page.getByRole("main").getByRole("alert")).toHaveText(
    "You are in no room called “nowhere”",
  );
  expect(await axeViolations(page)).toEqual([]);

  // Best match chosen right after Enter applies to the new search, however slow the server
  // is with a page (a navigation to the search page would still show the last one then).
  await page.route(/\/search\?/, async (route) => {
    if (route.request().headers()["rsc"]) await new Promise((r) => setTimeout(r, 2_000));
    await route.fallback();
  });
  await page.getByRole("searchbox", { name: "Search" }).fill("capybara");
  await page.getByRole("searchbox", { name: "Search" }).press("Enter");
  await page.getByLabel("Sort").selectOption("best");
  await expect(page).toHaveURL(/\/search\?q=capybara&sort=best$/);
  await expect(results.getByRole("link")).toHaveCount(1);
  await page.unrouteAll();
  // Then a word nobody wrote.
  await page.getByRole("searchbox", { name: "Search" }).fill("okapi");
  await page.getByRole("searchbox", { name: "Search" }).press("Enter");
  await expect(page.getByRole("main").getByRole("status")).toHaveText("No messages match “okapi”.");
});
