/**
 * How every test and benchmark launches Chromium: the executable scripts/ensure-browsers.mjs
 * found (CHROMIUM_PATH, else Debian's), headless with a synthetic camera and microphone, and
 * without the background traffic this machine's closed network would refuse. The fake-UI
 * flag accepts the camera and microphone prompt at `Join call`, as a person would; nothing
 * here touches WebRTC's privacy defaults (host addresses stay hidden behind mDNS names).
 */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const chromiumArgs = [
  "--no-sandbox",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * The same Chromium with no one to answer its permission prompts: without the fake-UI
 * flag (which accepts every prompt, whatever a permission is set to) headless Chromium
 * asks and hears no, and what a person answers is set through CDP's
 * `Browser.setPermission` (e2e/call-support.ts `answerDevicePrompt`).
 */
export const chromiumArgsAsking = chromiumArgs.filter(
  (arg) => arg !== "--use-fake-ui-for-media-stream",
);
