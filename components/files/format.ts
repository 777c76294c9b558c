/** Sizes as people read them: 512 bytes, 12 KB, 3.4 MB, 1.2 GB (1 KB = 1024 bytes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}

const NAMED: Record<string, string> = {
  "application/pdf": "PDF",
  "application/zip": "ZIP archive",
  "application/octet-stream": "File",
  "text/plain": "Text",
  "text/html": "HTML",
  "image/svg+xml": "SVG image",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel spreadsheet",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
};

/** A short name for a media type: "PNG image", "MP4 video", "PDF". */
export function typeLabel(mimeType: string): string {
  const named = NAMED[mimeType];
  if (named) return named;
  const [kind, sub = ""] = mimeType.split("/");
  const format = sub
    .replace(/^(x-|vnd\.)/, "")
    .split(/[.+;]/)[0]!
    .toUpperCase();
  if (kind === "image" || kind === "video" || kind === "audio") return `${format} ${kind}`;
  return format || "File";
}
