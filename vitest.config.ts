import path from "node:path";
import { defineConfig } from "vitest/config";

const root = import.meta.dirname;

/** Tests that run a real SFU with media (bots, a headless Chromium): CPU-heavy and timing-sensitive. */
const MEDIA_TESTS = ["sfu/test/**/*.test.ts"];

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@\/(.*)$/, replacement: path.join(root, "$1") },
      // Next maps this marker to an empty module for server code; so do the tests.
      { find: /^server-only$/, replacement: path.join(root, "test/support/empty.ts") },
    ],
  },
  test: {
    environment: "node",
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "app",
          include: ["**/*.test.ts", "**/*.test.tsx"],
          exclude: ["node_modules/**", "e2e/**", ".next/**", ".data/**", ...MEDIA_TESTS],
          // Two cores: two files at a time.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "media",
          include: MEDIA_TESTS,
          // After everything else, one file at a time: media timing on 2 cores is only
          // trustworthy when the SFU, its bots and the browser have the machine to themselves.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
