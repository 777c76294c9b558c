import type { NextConfig } from "next";

// Pages get their Content-Security-Policy, with a per-request script nonce, from proxy.ts
// (lib/server/csp.ts); downloads send their own (lib/files/http/download.ts).
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
    return [{ source: "/:path*", headers: securityHeaders }];
  },
};

export default nextConfig;
