import "server-only";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { AppError, isAppError } from "@/lib/errors";

/**
 * The one way Parley limits how often someone may do something: chat writes per user,
 * sign-ins, sign-ups and guests per client address, sign-ins per account. In memory on one
 * node; in Redis when REDIS_URL is set, so a client spreading requests over several nodes
 * gets one budget.
 */
export interface RateLimit {
  /** Takes a point for `key`, or throws {@link RateLimitedError} when none is left. */
  consume(key: string): Promise<void>;
}

/** A refusal that says when to try again (HTTP answers carry it as `Retry-After`). */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super("rate_limited", message);
    this.name = "RateLimitedError";
  }
}

/**
 * Matched by its code, not instanceof: the limits route handlers use are built by
 * server.ts, whose copy of this class is not the one in Next's bundle (lib/errors.ts).
 */
export function isRateLimited(err: unknown): err is RateLimitedError {
  return (
    isAppError(err) &&
    err.code === "rate_limited" &&
    typeof (err as Partial<RateLimitedError>).retryAfterS === "number"
  );
}

export function createRateLimit(options: {
  points: number;
  durationS: number;
  prefix: string;
  redis?: Redis;
  /** The refusal, given the wait ("5 seconds", "3 minutes"); defaults to sending too fast. */
  message?: (wait: string) => string;
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
  const message = options.message ?? ((wait) => `You are sending too fast; wait ${wait}`);
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
          throw new RateLimitedError(message(formatWait(seconds)), seconds);
        }
        throw err;
      }
    },
  };
}

/** "1 second", "45 seconds", "3 minutes" (rounded up). */
export function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/**
 * The 429 for a refusal: the usual error envelope (plus `extra` fields) and `Retry-After`;
 * route() answers every refusal with it.
 */
export function rateLimitedResponse(
  err: RateLimitedError,
  extra: Record<string, unknown> = {},
): Response {
  return Response.json(
    { ...extra, error: { code: err.code, message: err.message } },
    {
      status: 429,
      headers: { "Retry-After": String(err.retryAfterS), "Cache-Control": "no-store" },
    },
  );
}
