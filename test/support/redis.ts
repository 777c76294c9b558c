/**
 * The Redis for tests that need one: TEST_REDIS_URL. Under CI=true a missing one fails
 * the run; elsewhere those tests are skipped (returned null) so a laptop without Redis can
 * still run the rest.
 */
export function testRedisUrl(): string | null {
  const url = process.env.TEST_REDIS_URL;
  if (!url && process.env.CI === "true") {
    throw new Error("CI=true but TEST_REDIS_URL is not set: the Redis tests cannot run");
  }
  return url || null;
}
