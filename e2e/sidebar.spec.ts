import { createRequire } from "node:module";
import { type Browser, expect, type Locator, type Page, test } from "@playwright/test";
import { callRegion, joinCall, tile } from "./call-support";
import {
  expectConnected,
  joinAsGuest,
  messages,
  newRoom,
  renameRoom,
  send,
  signUp,
} from "./support";

/**
 * The rooms sidebar, the quick switcher and the keyboard shortcuts (issue 14, parts 3 and 4),
 * driven as a person would: by accessible names, and with the keyboard alone where it says so.
 */

const rooms = (page: Page) => page.getByRole("navigation", { name: "Rooms" });
const roomLink = (page: Page, name: string) => rooms(page).getByRole("link", { name, exact: true });

/** Marks the page, so a later check can tell a client navigation from a reload. */
async function markPage(page: Page) {
  await page.evaluate(() => Object.assign(window, { parleyNoReload: true }));
}
async function expectNotReloaded(page: Page) {
  expect(await page.evaluate(() => "parleyNoReload" in window)).toBe(true);
}

/** The sidebar's links, top to bottom. */
async function sidebarNames(page: Page): Promise<string[]> {
  return rooms(page)
    .getByRole("link")
    .evaluateAll((links) => links.map((l) => l.firstElementChild?.textContent ?? ""));
}

async function expectCurrent(page: Page, name: string) {
  await expect(roomLink(page, name)).toHaveAttribute("aria-current", "page");
  await expect(rooms(page).locator('[aria-current="page"]')).toHaveCount(1);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
}

/**
 * Ada, signed up, with two rooms named `first` and `second` (in the second now), and Grace,
 * a guest, in the first.
 */
async function adaWithTwoRooms(page: Page, browser: Browser, first: string, second: string) {
  await signUp(page, "Ada");
  const firstPath = await newRoom(page);
  await renameRoom(page, first);
  await page.goto("/");
  await newRoom(page);
  await renameRoom(page, second);
  await expectCurrent(page, second);
  return { grace: await joinAsGuest(browser, firstPath, "Grace") };
}

/** Ada and Grace in a call, and still both in it (and seeing each other) seconds later. */
async function expectStillInCall(ada: Page, grace: Page) {
  await expect(tile(grace, "Ada")).toBeVisible();
  await expect(tile(ada, "Grace")).toBeVisible();
  // What a stale teardown would undo arrives within a second or two of the join.
  await ada.waitForTimeout(4_000);
  await expect(callRegion(ada).getByRole("button", { name: "Leave call" })).toBeVisible();
  await expect(tile(grace, "Ada")).toBeVisible();
  await expect(tile(ada, "Grace")).toBeVisible();
}

test.describe("moving between rooms", () => {
  test("the sidebar's counts, mentions and call marks stay live; a click switches without a reload", async ({
    page,
    browser,
  }) => {
    const { grace } = await adaWithTwoRooms(page, browser, "Design", "Planning");
    const link = roomLink(page, "Design");
    await expect(link).not.toHaveAttribute("aria-description", /.+/);
    await send(grace.page, "hello from Grace");
    await expect(link).toHaveAccessibleDescription("1 unread");
    const box = grace.page.getByRole("textbox", { name: "Message" });
    await box.pressSequentially("@Ad");
    await grace.page
      .getByRole("listbox", { name: "Mention" })
      .getByRole("option", { name: "Ada" })
      .click();
    await box.pressSequentially("look at this");
    await box.press("Enter");
    await expect(link).toHaveAccessibleDescription("2 unread, 1 mention");

    // A call starts in Design: the mark shows, and goes when the call ends.
    await joinCall(grace.page);
    await expect(link).toHaveAccessibleDescription("2 unread, 1 mention, call in progress");
    await grace.page.getByRole("button", { name: "Leave call" }).click();
    await expect(link).toHaveAccessibleDescription("2 unread, 1 mention");

    // Switching from the sidebar is a client navigation; reading the room clears its counts.
    await markPage(page);
    await link.click();
    await expectCurrent(page, "Design");
    await expect(messages(page).filter({ hasText: "look at this" })).toBeVisible();
    await expect(link).not.toHaveAttribute("aria-description", /.+/);
    await expectNotReloaded(page);

    // Most recently active first: a message in Planning moves it to the top, live.
    await expect.poll(() => sidebarNames(page)).toEqual(["Design", "Planning"]);
    await roomLink(page, "Planning").click();
    // Until the new room is on screen, the composer is Design's: typing sooner sends there.
    await expectCurrent(page, "Planning");
    await expectConnected(page);
    await send(page, "planning notes");
    await expect.poll(() => sidebarNames(page)).toEqual(["Planning", "Design"]);
    await grace.context.close();
  });

  test("a call goes on when you switch rooms, and the outbox still sends what waited", async ({
    page,
    browser,
    context,
  }) => {
    const { grace } = await adaWithTwoRooms(page, browser, "Standup", "Retro");

    // Grace and Ada in Standup's call: Ada sees Grace's tile (with its hidden `Connection
    // details`), and the shortcuts still work during the call.
    await roomLink(page, "Standup").click();
    await expectCurrent(page, "Standup");
    await expectConnected(page);
    await joinCall(grace.page);
    await joinCall(page);
    await expect(tile(grace.page, "Ada")).toBeVisible();
    await expect(tile(page, "Grace")).toBeVisible();
    // Moving to another room keeps the call (docs/calls.md, "Who owns the call"): Grace
    // still has Ada, and Ada's sidebar marks the call as hers.
    await markPage(page);
    await page.keyboard.press("Control+k");
    await page.getByRole("combobox", { name: "Room or person" }).pressSequentially("retro");
    await page.keyboard.press("Enter");
    await expectCurrent(page, "Retro");
    await expectNotReloaded(page);
    await expect(roomLink(page, "Standup")).toHaveAccessibleDescription("you are in its call");
    await expect(page.getByRole("complementary", { name: "Your call" })).toContainText("Standup");
    await roomLink(page, "Standup").click();
    await expectCurrent(page, "Standup");
    await expectStillInCall(page, grace.page);

    // Leave, then Join, then away again: the call that went on is this one.
    await callRegion(page).getByRole("button", { name: "Leave call" }).click();
    await joinCall(page);
    await expectStillInCall(page, grace.page);
    await page.keyboard.press("Control+k");
    await page.getByRole("combobox", { name: "Room or person" }).pressSequentially("retro");
    await page.keyboard.press("Enter");
    await expectCurrent(page, "Retro");
    await expect(tile(grace.page, "Ada")).toBeVisible();
    await page
      .getByRole("complementary", { name: "Your call" })
      .getByRole("button", { name: "Leave call" })
      .click();
    await expect(tile(grace.page, "Ada")).toHaveCount(0);

    await grace.page.getByRole("button", { name: "Leave call" }).click();
    await expect(roomLink(page, "Standup")).not.toHaveAttribute("aria-description", /call/);
    await roomLink(page, "Standup").click();
    await expectCurrent(page, "Standup");
    await expectConnected(page);

    // Written offline; the connection comes back as you move to another room: it is sent
    // (the outbox runs in the shell, whichever room is open). A room switch itself needs
    // the server, so it waits for the connection.
    await context.setOffline(true);
    await send(page, "sent after all");
    await expect(messages(page).filter({ hasText: "sent after all" })).toContainText("Sending");
    await context.setOffline(false);
    await roomLink(page, "Retro").click();
    await expectCurrent(page, "Retro");
    await expect(messages(grace.page).filter({ hasText: "sent after all" })).toBeVisible();
    await expectNotReloaded(page);
    await grace.context.close();
  });

  test("with the keyboard alone: Ctrl+K finds rooms and people, Alt+↑/↓ steps, ? lists the shortcuts", async ({
    page,
    browser,
  }) => {
    const { grace } = await adaWithTwoRooms(page, browser, "Design", "Planning");
    await markPage(page);

    // Ctrl+K, a person's name, Enter: the direct conversation opens (started the first time).
    await page.keyboard.press("Control+k");
    const switcher = page.getByRole("dialog", { name: "Find a room or person" });
    const combo = switcher.getByRole("combobox", { name: "Room or person" });
    await expect(combo).toBeFocused();
    await combo.pressSequentially("gra");
    const options = switcher.getByRole("listbox", { name: "Rooms and people" }).getByRole("option");
    await expect(options).toHaveText([/^Grace/]);
    await expectActive(combo, options.first());
    await page.keyboard.press("Enter");
    await expect(switcher).toBeHidden();
    await expectCurrent(page, "Ada & Grace");

    // Arrows move the active option (aria-activedescendant); Enter opens it.
    await page.keyboard.press("Control+k");
    await expect(combo).toBeFocused();
    await expect(options).toHaveCount(3);
    const names = await options.evaluateAll((os) => os.map((o) => o.firstChild?.textContent));
    await page.keyboard.press("ArrowDown");
    await expectActive(combo, options.nth(1));
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowUp");
    await expectActive(combo, options.nth(1));
    await page.keyboard.press("Enter");
    await expectCurrent(page, names[1]!);
    // Typing narrows it; Escape closes and changes nothing.
    await page.keyboard.press("Control+k");
    await combo.pressSequentially("plan");
    await expect(options).toHaveText([/^Planning/]);
    await page.keyboard.press("Escape");
    await expect(switcher).toBeHidden();
    await expectCurrent(page, names[1]!);

    // Alt+↓ / Alt+↑ follow the sidebar's order, and stop at its ends.
    const order = await sidebarNames(page);
    expect(order).toHaveLength(3);
    let at = order.indexOf(names[1]!);
    while (at > 0) {
      await page.keyboard.press("Alt+ArrowUp");
      await expectCurrent(page, order[--at]!);
    }
    await page.keyboard.press("Alt+ArrowUp");
    await expectCurrent(page, order[0]!);
    for (at = 1; at < order.length; at++) {
      await page.keyboard.press("Alt+ArrowDown");
      await expectCurrent(page, order[at]!);
    }
    // Even from the message box.
    await expectConnected(page);
    await page.getByRole("textbox", { name: "Message" }).focus();
    await page.keyboard.press("Alt+ArrowUp");
    await expectCurrent(page, order[1]!);

    // `?` typed in a field is a question mark; elsewhere it lists the shortcuts.
    await expectConnected(page);
    const message = page.getByRole("textbox", { name: "Message" });
    await message.focus();
    await page.keyboard.type("why?");
    await expect(message).toHaveValue("why?");
    await expect(page.getByRole("dialog")).toHaveCount(0);
    await message.fill("");
    await page.getByRole("heading", { level: 1 }).click();
    await page.keyboard.press("?");
    const list = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await expect(
      list.getByRole("row", { name: /Ctrl \+ K Find a room or a person/ }),
    ).toBeVisible();
    await expect(
      list.getByRole("row", { name: /Alt \+ ↓ Next room in the sidebar/ }),
    ).toBeVisible();
    await page.keyboard.press("Escape");
    await expect(list).toBeHidden();
    await expectNotReloaded(page);
    await grace.context.close();
  });

  test("on a phone the rooms are a drawer and the account a menu: a button opens each, Escape closes it", async ({
    browser,
  }) => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    await signUp(page, "Ada");
    await newRoom(page);
    await renameRoom(page, "Design");
    await page.goto("/");
    await newRoom(page);
    await renameRoom(page, "Planning");

    await expect(rooms(page)).toBeHidden();
    const open = page.getByRole("button", { name: "Rooms" });
    await open.click();
    const drawer = page.getByRole("dialog", { name: "Rooms" });
    await expect(open).toHaveAttribute("aria-expanded", "true");
    await expect(roomLink(page, "Planning")).toHaveAttribute("aria-current", "page");
    await page.keyboard.press("Escape");
    await expect(drawer).toBeHidden();
    await expect(open).toBeFocused();
    await expect(open).toHaveAttribute("aria-expanded", "false");

    await open.click();
    await roomLink(page, "Design").click();
    await expect(drawer).toBeHidden();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Design");

    // Nothing in the header runs off the side of the screen (a phone would lay the page out
    // wider than itself and show it zoomed out): the account's part is a menu.
    const offScreen = () =>
      page.getByRole("banner").evaluate(
        (header, width) =>
          [...header.querySelectorAll<HTMLElement>("a, button, input")]
            .filter((e) => e.checkVisibility())
            .filter((e) => e.getBoundingClientRect().right > width + 0.5)
            .map((e) => e.textContent || e.getAttribute("aria-label") || e.tagName),
        page.viewportSize()!.width,
      );
    expect(await offScreen()).toEqual([]);
    const account = page.getByRole("button", { name: "Account" });
    const settings = page.getByRole("link", { name: "Settings" });
    await expect(settings).toBeHidden();
    await account.click();
    await expect(account).toHaveAttribute("aria-expanded", "true");
    await expect(settings).toBeInViewport({ ratio: 1 });
    await expect(page.getByRole("button", { name: "Sign out", exact: true })).toBeInViewport({
      ratio: 1,
    });
    await page.keyboard.press("Escape");
    await expect(settings).toBeHidden();
    await expect(account).toBeFocused();
    await account.click();
    await settings.click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Settings");
    await expect(settings).toBeHidden();
    expect(await offScreen()).toEqual([]);
    await context.close();
  });

  test("no accessibility violations on home, a room and settings, with the sidebar and its dialogs", async ({
    page,
    browser,
  }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const grace = await joinAsGuest(browser, path, "Grace");
    await page.goto("/");
    await send(grace.page, "something unread");
    await expect(roomLink(page, "Ada's room")).toHaveAccessibleDescription("1 unread");
    await expectNoViolations(page, "home");
    await roomLink(page, "Ada's room").click();
    await expectConnected(page);
    await expectNoViolations(page, "room");
    await page.keyboard.press("Control+k");
    await page.getByRole("combobox", { name: "Room or person" }).pressSequentially("gr");
    await expect(page.getByRole("option", { name: /Grace/ })).toBeVisible();
    await expectNoViolations(page, "quick switcher");
    await page.keyboard.press("Escape");
    await page.getByRole("link", { name: "Settings" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Settings");
    await expectNoViolations(page, "settings");
    await page.getByRole("button", { name: "Keyboard shortcuts" }).click();
    await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
    await expectNoViolations(page, "shortcuts");
    await grace.context.close();
  });
});

async function expectActive(combo: Locator, option: Locator) {
  await expect(option).toHaveAttribute("aria-selected", "true");
  await expect(combo).toHaveAttribute("aria-activedescendant", (await option.getAttribute("id"))!);
}

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Runs axe-core (WCAG 2 A and AA, and its best practices) over the page as it is now. */
async function expectNoViolations(page: Page, what: string) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    const { violations } = await axe.run();
    return violations.map((v) => {
      const { id, help, nodes } = v as { id: string; help: string; nodes: { target: unknown }[] };
      return { id, help, targets: nodes.map((n) => JSON.stringify(n.target)) };
    });
  });
  expect(violations, `axe on ${what}`).toEqual([]);
}
