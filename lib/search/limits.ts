import "server-only";
import type { Redis } from "ioredis";
import type { Env } from "@/lib/env";
import { createRateLimit, type RateLimit } from "@/lib/server/rate-limit";
import { service } from "@/lib/server/runtime";

/**
 * How often a user may search: each search reads the database as much as many writes do.
 * server.ts builds it once (on the Redis of the Socket.IO adapter when there is one, so
 * every web node counts together) and registers it as the `searchLimit` service.
 */
export function createSearchLimit(
  env: Pick<Env, "SEARCH_RATE_POINTS" | "SEARCH_RATE_WINDOW_S">,
  redis?: Redis,
): RateLimit {
  return createRateLimit({
    points: env.SEARCH_RATE_POINTS,
    durationS: env.SEARCH_RATE_WINDOW_S,
    prefix: "search",
    redis,
    message: (wait) => `You are searching too fast; wait ${wait}`,
  });
}

export function searchLimit(): RateLimit {
  return service("searchLimit");
}
