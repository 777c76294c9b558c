import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect, type Page, test } from "@playwright/test";
import sharp from "sharp";
import { messages, newRoom, send, signUp } from "./support";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Clicks an export button and unpacks the archive it downloads, with the system's tar. */
async function exportVia(page: Page, button: string): Promise<string> {
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: button }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^parley-.*\.tar$/);
  const out = mkdtempSync(path.join(tmpdir(), "parley-e2e-export-"));
  execFileSync("tar", ["-xf", (await download.path())!, "-C", out]);
  return out;
}

test("a room's owner exports it: the HTML opens in Chromium and shows the messages and the image", async ({
  page,
}) => {
  await signUp(page, "Archivist");
  await newRoom(page);
  const image = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 40 } },
  })
    .png()
    .toBuffer();
  await page
    .getByLabel("Attach file")
    .setInputFiles([{ name: "red.png", mimeType: "image/png", buffer: image }]);
  await expect(
    page.getByRole("list", { name: "Attached files" }).getByRole("listitem"),
  ).toContainText("ready");
  await send(page, "with a picture");
  await send(page, "**second** <i>message</i>");
  await expect(messages(page)).toHaveCount(2);
  await expect(messages(page).last()).not.toContainText("Sending");

  const out = await exportVia(page, "Export room");
  const [folder] = execFileSync("ls", [out]).toString().trim().split("\n");
  const root = path.join(out, folder!);
  const manifest = JSON.parse(readFileSync(path.join(root, "manifest.json"), "utf8")) as {
    messages: number;
    files: Array<{ path: string; sha256: string }>;
  };
  expect(manifest.messages).toBe(2);
  expect(manifest.files).toHaveLength(1);
  expect(sha256(readFileSync(path.join(root, manifest.files[0]!.path)))).toBe(sha256(image));

  const reader = await page.context().newPage();
  await reader.goto(pathToFileURL(path.join(root, "index.html")).toString());
  const log = reader.getByRole("log", { name: "Messages" });
  await expect(log.getByRole("article")).toHaveCount(2);
  await expect(log.getByRole("article").first()).toContainText("with a picture");
  await expect(log.getByRole("article").last()).toContainText("**second** <i>message</i>");
  const img = log.getByRole("img", { name: "red.png" });
  await expect
    .poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth))
    .toBe(64);
  await reader.close();

  // The person's own archive has the same two messages.
  await page.goto("/settings");
  const mine = await exportVia(page, "Export my data");
  const lines = readFileSync(path.join(mine, "parley-export", "messages.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { body: string }).body);
  expect(lines).toEqual(["with a picture", "**second** <i>message</i>"]);
  await expect(page.getByRole("status").filter({ hasText: /Exported/ })).toBeVisible();
});
