/** Where return paths are resolved when the caller does not say which host it is. */
const PLACEHOLDER_ORIGIN = "http://parley.invalid";

/**
 * Only same-site paths are followed after sign-in: never another origin (open redirect).
 * The value is resolved as a browser would resolve it (the URL parser drops tabs and
 * newlines and reads `\` as `/`, so `/\t/evil.example` and `/\evil.example` both mean
 * `//evil.example`), and only a result on our own origin is kept, as path, query and hash
 * in their encoded form — which never holds a character a Location header cannot carry.
 * `host` is this server's host, to keep absolute URLs on it; without it they are dropped.
 */
export function safeReturnPath(raw: string | null | undefined, host?: string | null): string {
  if (!raw) return "/";
  let url: URL;
  try {
    url = new URL(raw, PLACEHOLDER_ORIGIN);
  } catch {
    return "/";
  }
  const ours =
    url.origin === PLACEHOLDER_ORIGIN ||
    (!!host && url.host === host && (url.protocol === "http:" || url.protocol === "https:"));
  if (!ours) return "/";
  // A path that still starts with `//` (from `/.//evil`) would be read as another host.
  return `/${url.pathname.replace(/^\/+/, "")}${url.search}${url.hash}`;
}
