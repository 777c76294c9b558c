import { defineConfig, devices } from "@playwright/test";
import { chromiumArgs } from "./scripts/chromium";

/**
 * End-to-end tests drive the production build (`npm run build` first) served by server.ts
 * on a loopback port with a fresh DATA_DIR and every default embedded. Browsers come from
 * scripts/ensure-browsers.mjs (CHROMIUM_PATH, FIREFOX_PATH); `npm test` sets them.
 */
const PORT = Number(process.env.E2E_PORT ?? 3210);
// Both settable, so two runs on one machine do not share a server or wipe each other's data.
const DATA_DIR = process.env.E2E_DATA_DIR ?? `.test-data/e2e-${PORT}`;

export default defineConfig({
  testDir: "e2e",
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"]] : [["list"], ["html", { open: "never" }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    actionTimeout: 10_000,
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: { executablePath: process.env.CHROMIUM_PATH, args: chromiumArgs },
        // Camera and microphone are asked for at `Join call` (the fake-UI flag in
        // chromiumArgs answers yes), never granted up front.
        permissions: ["clipboard-read", "clipboard-write"],
      },
    },
  ],
  webServer: {
    command: `rm -rf ${DATA_DIR} && node --import ./scripts/node-hooks.mjs --import tsx server.ts`,
    url: `http://127.0.0.1:${PORT}/api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      NODE_ENV: "production",
      // A known zone for the server's rendering (e2e/hydration.spec.ts browses from another).
      TZ: "UTC",
      PORT: String(PORT),
      HOST: "127.0.0.1",
      DATA_DIR,
      LOG_LEVEL: "warn",
      // Low enough that a test can hit it quickly (e2e/chat.spec.ts).
      CHAT_RATE_POINTS: "15",
      CHAT_RATE_WINDOW_S: "5",
      // Every browser here comes from 127.0.0.1: the per-address sign-in, sign-up and guest
      // limits are sized for the whole suite; the per-account one keeps its default
      // (e2e/auth.spec.ts hits it).
      SIGNIN_RATE_POINTS: "1000",
      SIGNUP_RATE_POINTS: "1000",
      GUEST_RATE_POINTS: "1000",
      // The embedded defaults: no external database or Redis, whatever the shell has.
      DATABASE_URL: "",
      REDIS_URL: "",
      // Call media stays on loopback (browsers reach 127.0.0.1 candidates as peer-reflexive).
      SFU_MEDIA_IP: "127.0.0.1",
      // Two media workers, and a room spreads to the second from its third participant on:
      // e2e/call.spec.ts's three-person call spans both workers (its tracks piped between them).
      SFU_WORKERS: "2",
      SFU_ROOM_PEERS_PER_WORKER: "2",
      // e2e/notifications.spec.ts's local push service (plain http on loopback).
      PUSH_INSECURE_ORIGINS: `http://127.0.0.1:${PORT + 1000}`,
    },
  },
});
