/**
 * What a sniffed media type means for showing a file. Used by the server (headers) and the
 * browser (which player to render), so both agree.
 */

/** Raster formats browsers decode safely as images; never SVG, which can carry script. */
const RASTER_IMAGES = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/bmp",
]);

export type AttachmentKind = "image" | "video" | "audio" | "pdf" | "file";

export function attachmentKind(mimeType: string): AttachmentKind {
  if (RASTER_IMAGES.has(mimeType)) return "image";
  if (mimeType.startsWith("video/")) return "video";
  if (mimeType.startsWith("audio/")) return "audio";
  if (mimeType === "application/pdf") return "pdf";
  return "file";
}

/**
 * Whether the file may be shown in the browser rather than downloaded. An image that got
 * no thumbnail (corrupt, or over the pixel limit) is downloaded instead of decoded by
 * the viewer's browser.
 */
export function isInlineSafe(mimeType: string, hasThumbnail: boolean): boolean {
  const kind = attachmentKind(mimeType);
  if (kind === "image") return hasThumbnail;
  return kind !== "file";
}

/** Formats the server tries to make a thumbnail of (what sharp's bundled libvips reads). */
export function canHaveThumbnail(mimeType: string): boolean {
  return [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/tiff",
  ].includes(mimeType);
}
