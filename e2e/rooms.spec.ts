import { expect, test } from "@playwright/test";
import {
  apiSenders,
  expectConnected,
  joinAsGuest,
  messages,
  newRoom,
  send,
  signUp,
  transcript,
} from "./support";

test.describe("rooms and history", () => {
  test("scrolling up loads older history by cursor, in order", async ({ page, baseURL }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const slug = path.split("/").pop()!;

    // Five people send 64 messages in turn (each within the e2e server's rate limit).
    const senders = await apiSenders(baseURL!, slug, 5);
    for (let i = 1; i <= 64; i++) await senders.say(`m${String(i).padStart(2, "0")}`);
    senders.close();

    await page.reload();
    await expectConnected(page);
    await expect(messages(page)).toHaveCount(50);
    await expect(messages(page).last()).toContainText("m64");
    await page
      .getByRole("log", { name: "Messages" })
      .evaluate((log) => log.parentElement!.scrollTo(0, 0));
    await expect(messages(page)).toHaveCount(64);
    const lines = await transcript(page);
    expect(lines.map((l) => l.split(": ")[1])).toEqual(
      Array.from({ length: 64 }, (_, i) => `m${String(i + 1).padStart(2, "0")}`),
    );
  });

  test("one account on two devices sees the same rooms, messages and read position", async ({
    page,
    browser,
  }) => {
    const { email, password } = await signUp(page, "Ada");
    const path = await newRoom(page);
    const laptop = page;
    const phoneContext = await browser.newContext();
    const phone = await phoneContext.newPage();
    await phone.goto("/signin");
    await phone.getByLabel("Email").fill(email);
    await phone.getByLabel("Password").fill(password);
    await phone.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(phone.getByRole("main").getByRole("link", { name: "Ada's room" })).toBeVisible();

    const guest = await joinAsGuest(browser, path, "Grace");
    // Both devices away from the room (the laptop on its home page): the message is unread
    // on both. Were the laptop in the room, it would read it at once, and whether the phone
    // ever showed the count would be a race.
    await laptop.goto("/");
    await expect(laptop.getByRole("main").getByRole("link", { name: "Ada's room" })).toBeVisible();
    await send(guest.page, "for both of you");
    await expect(phone.getByText("1 unread")).toBeVisible();
    await expect(laptop.getByText("1 unread")).toBeVisible();
    // Read on the laptop: the phone's count clears by itself.
    await laptop.getByRole("main").getByRole("link", { name: "Ada's room" }).click();
    await expect(messages(laptop).filter({ hasText: "for both of you" })).toBeVisible();
    await expect(phone.getByText("1 unread")).toHaveCount(0);
    // Joining a room by its link on the laptop puts it in the phone's list, live.
    await guest.page.goto("/");
    const gracesRoom = await newRoom(guest.page);
    await laptop.goto(gracesRoom);
    await expect(laptop.getByRole("heading", { level: 1 })).toHaveText("Grace's room");
    await expect(phone.getByRole("main").getByRole("link", { name: "Grace's room" })).toBeVisible();
    await laptop.goto(path);
    await expectConnected(laptop);

    await phone.getByRole("main").getByRole("link", { name: "Ada's room" }).click();
    await send(phone, "sent from my phone");
    await expect(messages(laptop).filter({ hasText: "sent from my phone" })).toContainText("Ada");
    await phoneContext.close();
    await guest.context.close();
  });

  test("a private room admits only its invite link", async ({ page, browser }) => {
    await signUp(page, "Ada");
    await page.getByRole("button", { name: "New private room" }).click();
    await page.waitForURL(/\/r\//);
    const path = new URL(page.url()).pathname;
    await page.getByRole("button", { name: "Copy invite link" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Invite link copied" })).toBeVisible();
    const invite = await page.evaluate(() => navigator.clipboard.readText());
    expect(invite).toContain(`${path}?invite=`);

    const context = await browser.newContext();
    const stranger = await context.newPage();
    await stranger.goto("/signin");
    await stranger.getByLabel("Display name").fill("Eve");
    await stranger.getByRole("button", { name: "Continue as guest" }).click();
    await stranger.waitForURL("/");
    const refused = await stranger.goto(path);
    expect(refused?.status()).toBe(404);
    await stranger.goto(new URL(invite).pathname + new URL(invite).search);
    await expect(stranger.getByRole("heading", { level: 1 })).toHaveText("Ada's room");
    await context.close();
  });

  test("a direct conversation opens from the participants list", async ({ page, browser }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");
    await page
      .getByRole("region", { name: "Participants" })
      .getByRole("button", { name: "Message Grace" })
      .click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Ada & Grace");
    await expectConnected(page);
    await send(page, "just between us");
    await guest.page.goto("/");
    const dms = guest.page.getByRole("list", { name: "Direct messages" });
    await dms.getByRole("link", { name: "Ada & Grace" }).click();
    await expect(messages(guest.page).filter({ hasText: "just between us" })).toBeVisible();
    await guest.context.close();
  });
});
