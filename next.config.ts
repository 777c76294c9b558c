import type { NextConfig } from "next";

// Scripts: Next's own inline bootstrap needs 'unsafe-inline' (a nonce would make every page
// dynamic); the dev server also evaluates code. Everything else is this origin only.
const isDev = process.env.NODE_ENV === "development";
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${isDev ? " 'unsafe-eval'" : ""}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "X-Frame-Options", value: "DENY" },
  // Calls need the camera, microphone and screen of this origin only.
  { key: "Permissions-Policy", value: "camera=(self), microphone=(self), display-capture=(self)" },
];

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // `npm run typecheck` (tsc over the whole project, server.ts and sfu/ included) gates
  // every test run; checking again inside `next build` would only double the time.
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
  // Native, WASM or process-owning packages stay plain Node modules, loaded from
  // node_modules at run time rather than bundled.
  serverExternalPackages: [
    "@electric-sql/pglite",
    "pg",
    "@node-rs/argon2",
    "ioredis",
    "socket.io",
    "werift",
    "sharp",
  ],
  async headers() {
    return [
      { source: "/:path*", headers: securityHeaders },
      // Downloads send their own, stricter policy (a sandbox); pages get this one.
      {
        source: "/((?!api/files).*)",
        headers: [{ key: "Content-Security-Policy", value: contentSecurityPolicy }],
      },
    ];
  },
};

export default nextConfig;
