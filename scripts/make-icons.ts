/**
 * Renders the app's PNG icons (web app manifest, notifications, Apple's home screen) from
 * public/icons/icon.svg with sharp. The PNGs are committed; run this after changing the
 * SVG: `npx node --import ./scripts/node-hooks.mjs --import tsx scripts/make-icons.ts`.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";

const dir = path.join(import.meta.dirname, "..", "public", "icons");
const svg = await readFile(path.join(dir, "icon.svg"));

// Rounded icon, for `any` purpose.
for (const size of [192, 512]) {
  await sharp(svg, { density: 300 })
    .resize(size, size)
    .png()
    .toFile(path.join(dir, `icon-${size}.png`));
}
await sharp(svg, { density: 300 })
  .resize(180, 180)
  .flatten({ background: "#3b5bdb" })
  .png()
  .toFile(path.join(dir, "apple-touch-icon.png"));

// Maskable: full-bleed background, the glyph inside the 80 % safe zone.
const glyph = await sharp(Buffer.from(svg.toString().replace(/<rect[^>]*\/>/, "")), {
  density: 300,
})
  .resize(360, 360)
  .png()
  .toBuffer();
await sharp({ create: { width: 512, height: 512, channels: 4, background: "#3b5bdb" } })
  .composite([{ input: glyph, gravity: "center" }])
  .png()
  .toFile(path.join(dir, "maskable-512.png"));

// Badge (Android's status bar): white on transparent, the glyph only.
const badgeSvg = svg
  .toString()
  .replace(/<rect[^>]*\/>/, "")
  .replace(/<circle[^>]*\/>/g, "");
await sharp(Buffer.from(badgeSvg), { density: 300 })
  .resize(96, 96)
  .png()
  .toFile(path.join(dir, "badge-96.png"));
console.info("icons written to", dir);
