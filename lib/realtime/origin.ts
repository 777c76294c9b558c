import "server-only";
import type { IncomingMessage } from "node:http";

/**
 * Cross-site WebSocket hijacking defence. A browser always sends Origin with a WebSocket
 * or XHR; it must be this server's own origin (as the Host header names it), the
 * configured public URL, or an explicitly allowed one. Non-browser clients send no Origin
 * and still need a valid session cookie.
 */
export function isAllowedOrigin(
  req: IncomingMessage,
  allowed: { publicUrl?: string; extra: string[] },
): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.extra.includes(url.origin)) return true;
  if (allowed.publicUrl && new URL(allowed.publicUrl).origin === url.origin) return true;
  return !allowed.publicUrl && url.host === req.headers.host;
}
