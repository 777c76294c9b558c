import { type NextRequest, NextResponse } from "next/server";
import { contentSecurityPolicy, newNonce } from "@/lib/server/csp";
import { runtime } from "@/lib/server/runtime";

/**
 * Next's request proxy (formerly middleware): gives every page a fresh script nonce and
 * the Content-Security-Policy naming it (lib/server/csp.ts). Next reads the policy from
 * the request headers set here and puts the nonce on the scripts it renders; the root
 * layout reads `x-nonce` for its own inline script. Pages are rendered per request anyway
 * (they depend on the session), so a nonce costs no static rendering.
 */
export function proxy(request: NextRequest): NextResponse {
  const nonce = newNonce();
  // Next runs the proxy in the Node.js runtime, in server.ts's process: the parsed
  // configuration is there (lib/server/runtime.ts).
  const { config } = runtime();
  const policy = contentSecurityPolicy({
    nonce,
    host: config.PUBLIC_URL ? new URL(config.PUBLIC_URL).host : request.headers.get("host"),
    dev: config.NODE_ENV === "development",
  });
  const headers = new Headers(request.headers);
  headers.set("x-nonce", nonce);
  headers.set("Content-Security-Policy", policy);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("Content-Security-Policy", policy);
  return response;
}

export const config = {
  matcher: [
    {
      // Pages only: not API routes (downloads send their own, stricter policy), the SFU's
      // signaling, sockets or static assets, and not router prefetches.
      source: "/((?!api/|sfu/|socket\\.io/|_next/static|_next/image|icon\\.svg|favicon\\.ico).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
