import webpush from "web-push";
import { type Env, parseEnv } from "@/lib/env";
import type { Secrets } from "@/lib/server/secrets";

/** Secrets for tests that run server code without server.ts (which loads the real ones). */
export const TEST_SECRETS: Secrets = {
  authSecret: "test-secret-test-secret-test-secret-0123",
  callTokenSecret: "c".repeat(32),
  filesMasterKey: "0".repeat(64),
  ...(({ publicKey, privateKey }) => ({ vapidPublicKey: publicKey, vapidPrivateKey: privateKey }))(
    webpush.generateVAPIDKeys(),
  ),
};

/** A parsed configuration: the defaults, NODE_ENV=test, and what the test sets. */
export function testConfig(overrides: Record<string, string> = {}): Env {
  return parseEnv({ NODE_ENV: "test", ...overrides });
}
