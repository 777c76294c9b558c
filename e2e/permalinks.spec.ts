import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { expect, type Page, test } from "@playwright/test";
import { apiSenders, expectConnected, messages, newRoom, send, signUp } from "./support";

/**
 * Jumping to a message: a permalink opens the room around it, far back in a long history;
 * scrolling pages both ways; what arrives meanwhile is counted and shown on `Jump to
 * latest`; sending goes to the live end; the read position never covers what was not seen.
 * And the keyboard: ↑ edits your last message, Esc marks the room read.
 */
const TOTAL = 240;
const label = (i: number) => `m${String(i).padStart(3, "0")}`;

const log = (page: Page) => page.getByRole("log", { name: "Messages" });
const message = (page: Page, text: string) => messages(page).filter({ hasText: text });
const current = (page: Page) => log(page).locator('[aria-current="true"]');
const jump = (page: Page) => page.getByRole("button", { name: "Jump to latest" });

/** Scrolls the conversation to one end (repeatedly, as a reader would, until `done`). */
async function scrollUntil(page: Page, end: "top" | "bottom", done: () => Promise<void>) {
  await expect(async () => {
    await log(page).evaluate((el, where) => {
      const scroller = el.parentElement!;
      scroller.scrollTop = where === "top" ? 0 : scroller.scrollHeight;
    }, end);
    await done();
  }).toPass({ timeout: 20_000 });
}

async function unreadCount(page: Page, slug: string): Promise<number> {
  const res = await page.request.get("/api/rooms");
  const { rooms } = (await res.json()) as { rooms: { slug: string; unreadCount: number }[] };
  return rooms.find((r) => r.slug === slug)!.unreadCount;
}

const axeSource = readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

async function axeViolations(page: Page) {
  await page.addScriptTag({ content: await axeSource });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    const result = await axe.run();
    return result.violations as { id: string; nodes: { target: string[] }[] }[];
  });
}

test("a permalink opens the room at an old message; both ways, Jump to latest, sending, ↑ and Esc", async ({
  page,
  baseURL,
}) => {
  test.setTimeout(120_000);
  await signUp(page, "Ada");
  const path = await newRoom(page);
  const slug = path.split("/").pop()!;

  // A long history, from others: 12 messages each, so each still has room under the
  // server's limit (CHAT_RATE_POINTS 15 per 5 s) for the two sent later in the test.
  const others = await apiSenders(baseURL!, slug, 20);
  const seqs: number[] = [0];
  for (let i = 1; i <= TOTAL; i++) seqs.push(await others.say(label(i)));

  // Copy link gives the message's absolute link, and it opens there.
  await page.reload();
  await expectConnected(page);
  await expect(messages(page).last()).toContainText(label(TOTAL));
  const recent = message(page, label(TOTAL - 2));
  await recent.hover();
  await recent.getByRole("button", { name: "Copy link" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Link copied" })).toBeAttached();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(`${baseURL}/r/${slug}?m=${seqs[TOTAL - 2]}`);

  // Far back: the room opens around it, the message in view, marked and focused.
  await page.goto(`/r/${slug}?m=${seqs[40]}`);
  await expectConnected(page);
  await expect(current(page)).toContainText(label(40));
  await expect(current(page)).toBeInViewport();
  await expect(current(page)).toBeFocused();
  await expect(messages(page).first()).toContainText(label(15));
  await expect(messages(page).last()).toContainText(label(64));
  await expect(jump(page)).toBeVisible();

  expect(await axeViolations(page)).toEqual([]);

  // Up to the beginning, then down past where it was opened: pages load both ways.
  await scrollUntil(page, "top", () =>
    expect(page.getByText("This is the beginning of the room.")).toBeVisible({ timeout: 1000 }),
  );
  await expect(messages(page).first()).toContainText(label(1));
  await scrollUntil(page, "bottom", () =>
    expect(message(page, label(130))).toHaveCount(1, { timeout: 1000 }),
  );
  await expect(message(page, label(129))).toHaveCount(1);
  // Still away from the live end.
  await expect(message(page, label(TOTAL))).toHaveCount(0);

  // Someone else writes meanwhile: not lost, counted, shown on Jump to latest.
  const unreadBefore = await unreadCount(page, slug);
  await others.say("news while you were away");
  await expect(jump(page)).toContainText("1 new");
  await expect(page.getByText("1 new message below")).toBeAttached();
  await expect(message(page, "news while you were away")).toHaveCount(0);
  // Not read: it was never in view.
  expect(await unreadCount(page, slug)).toBe(unreadBefore + 1);
  await jump(page).click();
  await expect(messages(page).last()).toContainText("news while you were away");
  await expect(messages(page).last()).toBeInViewport();
  await expect(jump(page)).toBeHidden();
  await expect.poll(() => unreadCount(page, slug)).toBe(0);

  // Back far away, then send: it goes through the outbox to the live end, and so do you.
  await page.goto(`/r/${slug}?m=${seqs[40]}`);
  await expectConnected(page);
  await expect(current(page)).toContainText(label(40));
  await send(page, "Ada writes from the past");
  await expect(messages(page).last()).toContainText("Ada writes from the past");
  await expect(messages(page).last()).not.toContainText("Sending");
  await expect(messages(page).last()).toBeInViewport();
  await expect(message(page, label(TOTAL))).toHaveCount(1);
  await expect(jump(page)).toBeHidden();

  // ↑ in the empty box edits your last message; Enter saves it.
  const box = page.getByRole("textbox", { name: "Message" });
  await box.focus();
  await box.press("ArrowUp");
  const edit = page.getByRole("textbox", { name: "Edit message" });
  await expect(edit).toBeFocused();
  await expect(edit).toHaveValue("Ada writes from the past");
  await edit.press("End");
  await edit.pressSequentially(", edited");
  await edit.press("Enter");
  await expect(messages(page).last()).toContainText("Ada writes from the past, edited");
  await expect(messages(page).last()).toContainText("(edited)");
  await expect(box).toBeFocused();

  // Esc marks the room read — not while a menu is open (Esc closes that first).
  await page.goto(`/r/${slug}?m=${seqs[40]}`);
  await expectConnected(page);
  await others.say("one more");
  await expect(jump(page)).toContainText("1 new");
  await expect.poll(() => unreadCount(page, slug)).toBeGreaterThan(0);
  await page.getByRole("button", { name: "Notifications", exact: true }).click();
  await expect(page.getByRole("radio", { name: "All messages" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("radio", { name: "All messages" })).toBeHidden();
  expect(await unreadCount(page, slug)).toBeGreaterThan(0);
  await page.keyboard.press("Escape");
  await expect(page.getByRole("status").filter({ hasText: "Marked as read" })).toBeAttached();
  await expect.poll(() => unreadCount(page, slug)).toBe(0);

  others.close();
});

test("a link to a message that is not there says so and shows the latest", async ({ page }) => {
  await signUp(page, "Ada");
  const path = await newRoom(page);
  await send(page, "the only message");
  await expect(messages(page).last()).not.toContainText("Sending");
  for (const m of ["999999", "abc", "0"]) {
    await page.goto(`${path}?m=${m}`);
    await expect(page.getByText("That link points at no message")).toHaveAttribute("role", "alert");
    await expect(messages(page).last()).toContainText("the only message");
    await expect(current(page)).toHaveCount(0);
  }
});
