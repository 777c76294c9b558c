import { readFile } from "node:fs/promises";
import { expect, type Page, test } from "@playwright/test";
import sharp from "sharp";
import { joinAsGuest, messages, newRoom, signUp } from "./support";

/** A small real PNG, so the server can make a thumbnail of it. */
function png(): Promise<Buffer> {
  return sharp({
    create: { width: 320, height: 200, channels: 3, background: { r: 30, g: 120, b: 200 } },
  })
    .png()
    .toBuffer();
}

function attachedFiles(page: Page) {
  return page.getByRole("list", { name: "Attached files" }).getByRole("listitem");
}

test.describe("file sharing", () => {
  test("a file and an image reach the other person: byte-identical download, thumbnail, full view", async ({
    page,
    browser,
  }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");

    const text = Buffer.from("Minutes of the meeting\n".repeat(2000));
    const image = await png();
    await page.getByLabel("Attach file").setInputFiles([
      { name: "minutes.txt", mimeType: "text/plain", buffer: text },
      { name: "chart.png", mimeType: "image/png", buffer: image },
    ]);
    await expect(attachedFiles(page)).toHaveCount(2);
    await expect(attachedFiles(page).filter({ hasText: "minutes.txt" })).toContainText("ready");
    await expect(attachedFiles(page).filter({ hasText: "chart.png" })).toContainText("ready");

    const box = page.getByRole("textbox", { name: "Message" });
    await box.fill("Here are the minutes");
    await box.press("Enter");
    await expect(attachedFiles(page)).toHaveCount(0);

    // The other person sees the message complete: caption, file link with size and type, thumbnail.
    const shared = messages(guest.page).filter({ hasText: "Here are the minutes" });
    await expect(shared).toContainText("Ada");
    const link = shared.getByRole("link", { name: "minutes.txt" });
    await expect(link).toBeVisible();
    await expect(shared).toContainText("45 KB · Text");
    const thumbnail = shared.getByRole("img", { name: "chart.png" });
    await expect(thumbnail).toBeVisible();
    await expect
      .poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBeGreaterThan(0);

    const [download] = await Promise.all([guest.page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe("minutes.txt");
    expect((await readFile((await download.path())!)).equals(text)).toBe(true);

    // The thumbnail opens the full image.
    await thumbnail.click();
    const viewer = guest.page.getByRole("dialog", { name: "chart.png" });
    await expect(viewer).toBeVisible();
    const full = viewer.getByRole("img", { name: "chart.png" });
    await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
    await viewer.getByRole("button", { name: "Close" }).click();
    await expect(viewer).toBeHidden();

    // The room's Files view lists both.
    const files = guest.page.getByRole("region", { name: "Files" });
    await files.getByRole("button", { name: "Files" }).click();
    await expect(files.getByRole("link", { name: "minutes.txt" })).toBeVisible();
    await expect(files.getByRole("link", { name: "chart.png" })).toBeVisible();
    await guest.context.close();
  });

  test("a file can be cancelled, an empty one is refused, and a message may be files alone", async ({
    page,
  }) => {
    await signUp(page, "Ada");
    await newRoom(page);
    const attach = page.getByLabel("Attach file");

    await attach.setInputFiles({
      name: "empty.txt",
      mimeType: "text/plain",
      buffer: Buffer.alloc(0),
    });
    await expect(
      attachedFiles(page).filter({ hasText: "empty.txt" }).getByRole("alert"),
    ).toHaveText("The file is empty");
    await page.getByRole("button", { name: "Remove empty.txt" }).click();
    await expect(attachedFiles(page)).toHaveCount(0);

    // An upload in progress is cancelled, and the server told to drop what it has.
    let release!: () => void;
    let patching!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const patchStarted = new Promise<void>((resolve) => (patching = resolve));
    await page.route("**/api/files/uploads/*", async (route) => {
      if (route.request().method() === "PATCH") {
        patching();
        await held;
      }
      await route.continue().catch(() => undefined);
    });
    await attach.setInputFiles({
      name: "slow.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(300_000, 2),
    });
    const slow = attachedFiles(page).filter({ hasText: "slow.bin" });
    await expect(slow.getByRole("progressbar", { name: "Uploading slow.bin" })).toBeVisible();
    await patchStarted;
    const terminated = page.waitForRequest(
      (r) => r.method() === "DELETE" && r.url().includes("/api/files/uploads/"),
    );
    await page.getByRole("button", { name: "Cancel upload of slow.bin" }).click();
    await terminated;
    release();
    await page.unroute("**/api/files/uploads/*");
    await expect(attachedFiles(page)).toHaveCount(0);

    await attach.setInputFiles({
      name: "keep.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(5000, 1),
    });
    await expect(attachedFiles(page)).toContainText("ready");
    await page.getByRole("button", { name: "Send" }).click();
    const message = messages(page).last();
    await expect(message.getByRole("link", { name: "keep.bin" })).toBeVisible();
    await expect(message).toContainText("4.9 KB");
    await expect(message.getByRole("link", { name: "slow.bin" })).toHaveCount(0);
  });

  test("downloads are for room members only, with safe headers and byte ranges", async ({
    page,
    browser,
    playwright,
  }) => {
    await signUp(page, "Ada");
    await newRoom(page);
    const content = Buffer.from("<!doctype html><script>alert(document.cookie)</script>");
    await page.getByLabel("Attach file").setInputFiles({
      name: "innocent.png",
      mimeType: "image/png",
      buffer: content,
    });
    await expect(attachedFiles(page)).toContainText("ready");
    await page.getByRole("button", { name: "Send" }).click();
    const link = messages(page).last().getByRole("link", { name: "innocent.png" });
    const href = (await link.getAttribute("href"))!;
    const url = new URL(href, page.url());
    url.search = "";

    // Sniffed as HTML whatever it claimed: downloaded, sandboxed, never rendered.
    const whole = await page.request.get(url.href);
    expect(whole.status()).toBe(200);
    expect(whole.headers()["content-type"]).toBe("text/html");
    expect(whole.headers()["content-disposition"]).toMatch(/^attachment;/);
    expect(whole.headers()["x-content-type-options"]).toBe("nosniff");
    expect(whole.headers()["content-security-policy"]).toContain("sandbox");
    expect(await whole.body()).toEqual(content);
    const part = await page.request.get(url.href, { headers: { Range: "bytes=2-8" } });
    expect(part.status()).toBe(206);
    expect((await part.body()).toString()).toBe("doctype");

    // Someone signed in but not in the room, and someone not signed in, get nothing.
    const outsider = await browser.newContext();
    const outsiderPage = await outsider.newPage();
    await outsiderPage.goto("/signin");
    await outsiderPage.getByLabel("Display name").fill("Eve");
    await outsiderPage.getByRole("button", { name: "Continue as guest" }).click();
    await expect(outsiderPage.getByRole("button", { name: "New room" })).toBeVisible();
    expect((await outsiderPage.request.get(url.href)).status()).toBe(404);
    const guessed = url.href.replace(/[0-9a-f]{12}$/, "000000000000");
    expect((await page.request.get(guessed)).status()).toBe(404);
    const anonymous = await playwright.request.newContext({ baseURL: url.origin });
    expect((await anonymous.get(url.pathname)).status()).toBe(401);
    await anonymous.dispose();
    await outsider.close();
  });

  test("files dropped on the chat or pasted into the message box are attached", async ({
    page,
  }) => {
    await signUp(page, "Ada");
    await newRoom(page);

    // What a browser dispatches when files are dropped on the chat.
    await page.getByRole("region", { name: "Chat" }).evaluate((chat) => {
      const data = new DataTransfer();
      data.items.add(new File(["dropped"], "dropped.txt", { type: "text/plain" }));
      for (const type of ["dragenter", "dragover", "drop"]) {
        chat.dispatchEvent(
          new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }),
        );
      }
    });
    await expect(attachedFiles(page).filter({ hasText: "dropped.txt" })).toContainText("ready");

    // And when an image is pasted from the clipboard.
    const image = [...(await png())];
    await page.getByRole("textbox", { name: "Message" }).evaluate((box, bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], "image.png", { type: "image/png" }));
      box.dispatchEvent(
        new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: data }),
      );
    }, image);
    await expect(attachedFiles(page).filter({ hasText: "image.png" })).toContainText("ready");

    await page.getByRole("button", { name: "Send" }).click();
    const message = messages(page).last();
    await expect(message.getByRole("link", { name: "dropped.txt" })).toBeVisible();
    await expect(message.getByRole("img", { name: "image.png" })).toBeVisible();
  });

  test("a recorded voice note plays inline", async ({ page, browser }) => {
    await signUp(page, "Ada");
    const path = await newRoom(page);
    const guest = await joinAsGuest(browser, path, "Grace");

    await page.getByRole("button", { name: "Record voice note" }).click();
    await expect(page.getByText(/Recording \d+:\d\d/)).toBeVisible();
    await page.waitForTimeout(1500);
    await page.getByRole("button", { name: "Stop recording" }).click();
    await expect(attachedFiles(page).filter({ hasText: "Voice note" })).toContainText("ready");
    await page.getByRole("button", { name: "Send" }).click();

    const note = messages(guest.page).filter({ hasText: "Voice note" });
    await expect(note.getByRole("link", { name: /^Voice note .*\.webm$/ })).toBeVisible();
    await expect(note).toContainText("WEBM audio");
    await expect(note.locator("audio")).toHaveCount(1);
    await guest.context.close();
  });
});
