import "server-only";
import type { IncomingMessage } from "node:http";

/** Origins besides the request's own host: PUBLIC_URL and ALLOWED_ORIGINS. */
export interface AllowedOrigins {
  publicUrl?: string;
  extra: string[];
}

/**
 * Cross-site request defence, for WebSockets (here) and state-changing HTTP requests
 * (lib/server/route.ts). A browser always sends Origin with a WebSocket or XHR; it must be
 * this server's own origin (as the Host header names it), the configured public URL, or an
 * explicitly allowed one. Non-browser clients send no Origin and still need a valid
 * session cookie.
 */
export function isAllowedOrigin(req: IncomingMessage, allowed: AllowedOrigins): boolean {
  return originAllowed(req.headers.origin ?? null, req.headers.host ?? null, allowed);
}

/** The rule itself, on the two headers it reads (Origin, Host); a missing Origin passes. */
export function originAllowed(
  origin: string | null,
  host: string | null,
  allowed: AllowedOrigins,
): boolean {
  if (origin === null) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    // Includes the opaque "null" origin of sandboxed frames and some redirects.
    return false;
  }
  if (allowed.extra.includes(url.origin)) return true;
  if (allowed.publicUrl && new URL(allowed.publicUrl).origin === url.origin) return true;
  return !allowed.publicUrl && url.host === host;
}

/**
 * A state-changing HTTP request (POST, PUT, PATCH, DELETE) from a browser page this app
 * allows: its Origin passes {@link originAllowed}, or, without Origin, Sec-Fetch-Site says
 * same-origin or none. Clients that are not browsers send neither and pass (they still
 * need a session). Used by route handlers (lib/server/route.ts) and the plain-Node file
 * endpoints (lib/files/http/handler.ts).
 */
export function writeAllowed(
  headers: { origin: string | null; secFetchSite: string | null; host: string | null },
  allowed: AllowedOrigins,
): boolean {
  const { origin, secFetchSite: site, host } = headers;
  return origin !== null
    ? originAllowed(origin, host, allowed)
    : site === null || site === "same-origin" || site === "none";
}
