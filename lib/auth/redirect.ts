/** Only same-site paths are followed after sign-in: never another origin (open redirect). */
export function safeReturnPath(raw: string | null | undefined): string {
  if (!raw) return "/";
  let path = raw;
  try {
    // NextAuth may hand back an absolute URL on our own origin.
    if (/^https?:\/\//i.test(raw)) {
      const url = new URL(raw);
      path = url.pathname + url.search + url.hash;
    }
  } catch {
    return "/";
  }
  if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return "/";
  return path;
}
