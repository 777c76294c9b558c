import { expect, test } from "@playwright/test";
import {
  expectConnected,
  joinAsGuest,
  messages,
  newRoom,
  send,
  signUp,
  transcript,
} from "./support";

test.describe("chat", () => {
  test("sign up, open a room, a guest joins by link, both chat, history survives a reload", async ({
    page,
    browser,
  }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Ada's room");

    const guest = await joinAsGuest(browser, path, "Grace");
    const participants = page.getByRole("region", { name: "Participants" });
    await expect(participants).toContainText("Grace");
    await expect(guest.page.getByRole("region", { name: "Participants" })).toContainText("Ada");

    await send(page, "Hello Grace");
    await expect(messages(guest.page).filter({ hasText: "Hello Grace" })).toContainText("Ada");
    await send(guest.page, "Hi **Ada**");
    const reply = messages(page).filter({ hasText: "Hi Ada" });
    await expect(reply).toContainText("Grace");
    await expect(reply.locator("strong")).toHaveText("Ada");

    await page.reload();
    await expect(messages(page)).toHaveCount(2);
    expect(await transcript(page)).toEqual(["Ada: Hello Grace", "Grace: Hi Ada"]);

    // The room shows on both people's home pages.
    await guest.page.goto("/");
    await expect(
      guest.page.getByRole("main").getByRole("link", { name: "Ada's room" }),
    ).toBeVisible();
    await guest.context.close();
  });

  test("markup-like text is shown literally, never as HTML", async ({ page }) => {
    await signUp(page, "Mallory");
    await newRoom(page);
    const text = `<img src=x onerror="document.title='pwned'"> <b>bold?</b> <script>alert(1)</script>`;
    await send(page, text);
    const message = messages(page).last();
    await expect(message).toContainText("<b>bold?</b>");
    await expect(message).toContainText("<script>alert(1)</script>");
    await expect(message.locator("img, b, script")).toHaveCount(0);
    expect(await page.title()).not.toBe("pwned");

    await send(page, "[click](javascript:alert(1)) and https://example.test/page");
    const links = messages(page).last().getByRole("link");
    await expect(links).toHaveCount(2);
    await expect(links.first()).not.toHaveAttribute("href", /javascript/);
    await expect(links.last()).toHaveAttribute("target", "_blank");
  });

  test("typing on straight after choosing a mention keeps the text in order, on a device slow to paint", async ({
    page,
  }) => {
    await signUp(page, "Ada");
    await newRoom(page);
    await expectConnected(page);
    // A busy device: each animation frame comes 300 ms late. The caret after a chosen
    // mention used to be placed in the next frame, jumping back over what was typed sooner.
    await page.evaluate(() => {
      const frame = window.requestAnimationFrame.bind(window);
      window.requestAnimationFrame = (callback) =>
        frame(() => window.setTimeout(() => callback(performance.now()), 300));
    });
    const box = page.getByRole("textbox", { name: "Message" });
    for (const choose of ["click", "Enter"] as const) {
      await box.pressSequentially("@ro");
      const option = page
        .getByRole("listbox", { name: "Mention" })
        .getByRole("option", { name: /@room/ });
      if (choose === "click") await option.click();
      else {
        await expect(option).toBeVisible();
        await box.press("Enter");
      }
      // Some of it before that late frame, the rest after.
      await box.pressSequentially("look");
      await page.waitForTimeout(600);
      await box.pressSequentially(` at this (${choose})`);
      await expect(box).toHaveValue(`@room look at this (${choose})`);
      await box.press("Enter");
      await expect(messages(page).last()).toContainText(`@room look at this (${choose})`);
    }
  });

  test("a lost connection catches up in order, without duplicates", async ({ page, browser }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");
    await send(page, "before");
    await expect(messages(guest.page)).toHaveCount(1);

    await guest.context.setOffline(true);
    for (let i = 1; i <= 5; i++) await send(page, `while away ${i}`);
    await expect(messages(page)).toHaveCount(6);
    await expect(messages(guest.page)).toHaveCount(1);

    await guest.context.setOffline(false);
    await expect(messages(guest.page)).toHaveCount(6);
    expect(await transcript(guest.page)).toEqual([
      "Ada: before",
      ...[1, 2, 3, 4, 5].map((i) => `Ada: while away ${i}`),
    ]);
    // Live delivery resumes too.
    await send(page, "after");
    await expect(messages(guest.page)).toHaveCount(7);
    await guest.context.close();
  });

  test("a message written offline is sent exactly once when the connection returns", async ({
    page,
    browser,
  }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");

    await guest.context.setOffline(true);
    await send(guest.page, "written offline");
    const pending = messages(guest.page).filter({ hasText: "written offline" });
    await expect(pending).toContainText("Sending");

    // It survives a reload too: back online, reload at once, and the outbox sends it.
    await guest.context.setOffline(false);
    await guest.page.reload();
    await expectConnected(guest.page);
    await expect(messages(page).filter({ hasText: "written offline" })).toHaveCount(1);
    await expect(messages(guest.page).filter({ hasText: "written offline" })).toHaveCount(1);
    await expect(messages(guest.page).filter({ hasText: "written offline" })).not.toContainText(
      "Sending",
    );
    // No duplicate follows: instead of waiting a while, a round trip. The guest's outbox
    // sends one message at a time, so a resend would have gone out (and reached Ada) before
    // the next message does.
    await send(guest.page, "sent after it");
    await expect(messages(page).filter({ hasText: "sent after it" })).toHaveCount(1);
    expect(await transcript(page)).toEqual(["Grace: written offline", "Grace: sent after it"]);
    await guest.context.close();
  });

  test("a refused message shows Not sent, and Retry sends it", async ({ page }) => {
    await signUp(page, "Speedy");
    await newRoom(page);
    // The e2e server allows 15 writes per 5 s: the 16th is refused.
    for (let i = 1; i <= 16; i++) await send(page, `burst ${i}`);
    const refused = messages(page).filter({ hasText: "burst 16" });
    await expect(refused).toContainText("Not sent");
    await expect(refused).toContainText("too fast");
    await page.waitForTimeout(5500);
    await refused.getByRole("button", { name: "Retry" }).click();
    await expect(messages(page).filter({ hasText: "burst 16" })).not.toContainText("Not sent");
    await expect(messages(page).filter({ hasText: "burst 16" })).not.toContainText("Sending");
    await page.reload();
    await expect(messages(page)).toHaveCount(16);
  });

  test("edit, react, reply and delete reach the other person", async ({ page, browser }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");
    await send(page, "typo hree");
    const mine = messages(page).filter({ hasText: "typo hree" });
    await mine.hover();
    await mine.getByRole("button", { name: "Edit" }).click();
    await page.getByRole("textbox", { name: "Edit message" }).fill("typo here");
    await page.getByRole("textbox", { name: "Edit message" }).press("Enter");
    const edited = messages(page).filter({ hasText: "typo here" }).first();
    const theirs = messages(guest.page).filter({ hasText: "typo here" }).first();
    await expect(theirs).toContainText("(edited)");

    await theirs.hover();
    await theirs.getByRole("button", { name: "React" }).click();
    await guest.page
      .getByRole("group", { name: "Pick a reaction" })
      .getByRole("button", { name: "🎉" })
      .click();
    await expect(edited.getByRole("button", { name: "🎉 1" })).toBeVisible();

    await theirs.hover();
    await theirs.getByRole("button", { name: "Reply" }).click();
    await send(guest.page, "fixed, thanks");
    await expect(
      messages(page).filter({ hasText: "fixed, thanks" }).locator("blockquote"),
    ).toContainText("typo here");

    page.once("dialog", (d) => void d.accept());
    await edited.hover();
    await edited.getByRole("button", { name: "Delete" }).click();
    await expect(messages(guest.page).first()).toContainText("This message was deleted.");
    await guest.context.close();
  });

  test("typing shows to others, unread counts show at home and clear on reading", async ({
    page,
    browser,
  }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");
    await guest.page.getByRole("textbox", { name: "Message" }).pressSequentially("hel");
    await expect(page.getByText("Grace is typing…")).toBeVisible();

    await page.goto("/");
    await send(guest.page, "one");
    await send(guest.page, "two");
    await expect(page.getByText("2 unread")).toBeVisible();
    await page.getByRole("main").getByRole("link", { name: "Ada's room" }).click();
    await expect(messages(page)).toHaveCount(2);
    await page.goto("/");
    await expect(page.getByRole("main").getByRole("link", { name: "Ada's room" })).toBeVisible();
    await expect(page.getByText("unread")).toHaveCount(0);
    await guest.context.close();
  });

  test("bad sign-in input gets an alert and changes nothing; unknown rooms are not found", async ({
    page,
  }) => {
    await page.goto("/signin");
    await page.getByRole("button", { name: "Continue as guest" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Enter a display name" })).toBeVisible();
    await page.getByLabel("Email").fill("nobody@example.test");
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(
      page.getByRole("alert").filter({ hasText: "Wrong email or password" }),
    ).toBeVisible();
    await expect(page).toHaveURL(/\/signin/);

    await signUp(page, "Ada");
    const response = await page.goto("/r/000000-000000-000000");
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("heading", { name: "Room not found" })).toBeVisible();
  });

  test("the owner renames the room and everyone sees it", async ({ page, browser }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");
    await expect(guest.page.getByRole("button", { name: "Rename room" })).toHaveCount(0);
    await page.getByRole("button", { name: "Rename room" }).click();
    await page.getByRole("textbox", { name: "Room name" }).fill("Design review");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Design review");
    await expect(guest.page.getByRole("heading", { level: 1 })).toHaveText("Design review");
    await guest.context.close();
  });
});
