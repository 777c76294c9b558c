import { accessSync, constants } from "node:fs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import type { Lab } from "../test/support/netns";
import { recordCallMedia } from "./call-support";

/**
 * Stock Firefox (Debian's firefox-esr) for the cross-engine call tests, driven over
 * WebDriver BiDi by puppeteer-core: Playwright's BiDi Firefox needs commands this ESR
 * lacks, and Playwright's own Firefox build cannot be downloaded here.
 */
export function firefoxPath(): string | null {
  for (const path of [process.env.FIREFOX_PATH, "/usr/bin/firefox-esr", "/usr/bin/firefox"]) {
    if (!path) continue;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Try the next.
    }
  }
  return null;
}

/**
 * What the person at this Firefox answers when a page asks for the camera and microphone:
 * - `accept`: the prompt is skipped as if accepted (`media.navigator.permission.disabled`);
 * - `refuse`: Firefox's own setting "Block new requests asking to access your camera" (and
 *   microphone) in Settings → Privacy & Security → Permissions, which is
 *   `permissions.default.camera` / `permissions.default.microphone` = 2 (block): every
 *   request is refused as a person saying no would. WebDriver BiDi's
 *   `permissions.setPermission` would be the standard way, but Firefox ESR 153 answers it
 *   for "camera" and "microphone" with "currently unsupported".
 */
export type DeviceAnswer = "accept" | "refuse";

/**
 * Firefox as it ships (WebRTC's privacy defaults: host addresses hidden behind mDNS names)
 * with a fake camera and microphone, a person answering the device prompt (`devices`), and
 * autoplay allowed. `debuggingPort` fixes the WebDriver BiDi port (`launchFirefoxIn`).
 */
export function launchFirefox(
  executablePath: string,
  debuggingPort?: number,
  devices: DeviceAnswer = "accept",
): Promise<Browser> {
  const answer =
    devices === "accept"
      ? { "media.navigator.permission.disabled": true }
      : { "permissions.default.camera": 2, "permissions.default.microphone": 2 };
  return puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    debuggingPort,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true,
      "media.autoplay.default": 0,
      ...answer,
    },
  });
}

/**
 * Firefox running on a host of a network lab (test/support/netns.ts). Puppeteer drives it
 * over a WebSocket on the port Firefox announces, which listens on the host's own
 * loopback; the lab forwards the same port number from this process's loopback to it.
 */
export async function launchFirefoxIn(
  lab: Lab,
  host: string,
  executablePath: string,
  devices: DeviceAnswer = "accept",
): Promise<Browser> {
  return launchFirefox(lab.wrap(host, executablePath), await lab.forward(host), devices);
}

/** The element with that ARIA role and accessible name (puppeteer's ARIA query). */
export function byRole(page: Page, role: string, name: string) {
  return page.locator(`::-p-aria([name="${name}"][role="${role}"])`);
}

/** Opens a room link in a fresh Firefox context as a guest; resolves on the room page. */
export async function firefoxGuest(
  browser: Browser,
  url: string,
  displayName: string,
): Promise<Page> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const path = new URL(url).pathname;
  await page.evaluateOnNewDocument(recordCallMedia);
  await page.goto(url);
  await page.waitForSelector("#displayName");
  await page.type("#displayName", displayName);
  await byRole(page, "button", "Continue as guest").click();
  await page.waitForFunction((p: string) => location.pathname === p, {}, path);
  await page.waitForSelector('section[aria-label="Participants"] li');
  return page;
}

export async function firefoxJoinCall(page: Page): Promise<void> {
  await byRole(page, "button", "Join call").click();
  await byRole(page, "button", "Leave call").wait();
}
