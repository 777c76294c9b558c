import "server-only";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { AppError } from "@/lib/errors";

/**
 * Per-user limits on chat writes. In memory on one node; in Redis when REDIS_URL is set,
 * so a user spreading sockets over several nodes gets one budget.
 */
export interface RateLimit {
  consume(key: string): Promise<void>;
}

export function createRateLimit(options: {
  points: number;
  durationS: number;
  prefix: string;
  redis?: Redis;
}): RateLimit {
  const limiter = options.redis
    ? new RateLimiterRedis({
        storeClient: options.redis,
        keyPrefix: options.prefix,
        points: options.points,
        duration: options.durationS,
        // If Redis is unreachable, fall back to this node's own count rather than failing.
        insuranceLimiter: new RateLimiterMemory({
          points: options.points,
          duration: options.durationS,
        }),
      })
    : new RateLimiterMemory({
        keyPrefix: options.prefix,
        points: options.points,
        duration: options.durationS,
      });
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
          throw new AppError(
            "rate_limited",
            `You are sending too fast; wait ${seconds} second${seconds === 1 ? "" : "s"}`,
          );
        }
        throw err;
      }
    },
  };
}
