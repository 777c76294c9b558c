/**
 * File names as people gave them are shown and offered back on download, never used as a
 * path (objects live under random keys). Still, a name must not be able to fake its own
 * extension with bidi controls, break a header or a log line, or look like a path: so it
 * is cleaned here, once, on upload, and the clean name is what is stored.
 */

/** Controls (C0, C1, DEL), bidi embeddings, overrides, isolates and marks, and line/paragraph separators. */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/gu;
/** Path separators, and what Windows refuses in a name (the name is offered back on download). */
const SEPARATORS = /[/\\<>:"|?*]/g;
const MAX_LENGTH = 200;
const MAX_EXTENSION = 16;
export const FALLBACK_NAME = "file";

export function sanitizeFileName(raw: string): string {
  let name = raw
    .normalize("NFC")
    // Whitespace controls become spaces, so words stay apart; every other control goes.
    .replace(/[\t\n\v\f\r]/g, " ")
    .replace(UNSAFE, "")
    .replace(SEPARATORS, "_")
    .replace(/\s+/g, " ")
    // ".." is only a problem as a path segment, but it has no business in a display name.
    .replace(/\.{2,}/g, ".")
    // Leading dots hide a file on Unix; trailing dots and spaces vanish on Windows.
    .replace(/^[\s.]+/, "");
  name = truncateKeepingExtension(withoutTrailingDotsOrSpaces(name));
  return name === "" ? FALLBACK_NAME : name;
}

function truncateKeepingExtension(name: string): string {
  const chars = [...name];
  if (chars.length <= MAX_LENGTH) return name;
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? name.slice(dot) : "";
  const extChars = [...extension];
  if (extChars.length === 0 || extChars.length > MAX_EXTENSION)
    return chars.slice(0, MAX_LENGTH).join("");
  return (
    withoutTrailingDotsOrSpaces(chars.slice(0, MAX_LENGTH - extChars.length).join("")) + extension
  );
}

/** A scan, not `/[\s.]+$/`: that pattern retries from every start of a long run (quadratic). */
function withoutTrailingDotsOrSpaces(name: string): string {
  let end = name.length;
  while (end > 0 && /[\s.]/.test(name[end - 1]!)) end--;
  return name.slice(0, end);
}

/**
 * A Content-Disposition header offering `name` (RFC 6266): an ASCII fallback for old
 * clients and the exact UTF-8 name in filename*.
 */
export function contentDisposition(kind: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\%]/g, "_");
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
