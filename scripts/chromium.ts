/**
 * How every test and benchmark launches Chromium: the executable scripts/ensure-browsers.mjs
 * found (CHROMIUM_PATH, else Debian's), headless with a synthetic camera and microphone, and
 * without the background traffic this machine's closed network would refuse.
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
