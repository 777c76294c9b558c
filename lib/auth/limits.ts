import "server-only";
import type { Redis } from "ioredis";
import type { Env } from "@/lib/env";
import { readCapped } from "@/lib/server/body";
import { clientAddressKey } from "@/lib/server/client-address";
import {
  createRateLimit,
  type RateLimit,
  isRateLimited,
  rateLimitedResponse,
} from "@/lib/server/rate-limit";
import { service } from "@/lib/server/runtime";
import { emailSchema } from "./schemas";

/**
 * How often a client may try to get in: sign-ins per address and per account, accounts and
 * guests per address. server.ts builds them once (on the Redis of the Socket.IO adapter
 * when there is one, so every web node counts together) and registers them as the
 * `authLimits` service.
 */
export interface AuthLimits {
  signIn: RateLimit;
  signInAccount: RateLimit;
  signUp: RateLimit;
  guest: RateLimit;
}

type LimitSettings = Pick<
  Env,
  | "SIGNIN_RATE_POINTS"
  | "SIGNIN_RATE_WINDOW_S"
  | "SIGNIN_ACCOUNT_RATE_POINTS"
  | "SIGNIN_ACCOUNT_RATE_WINDOW_S"
  | "SIGNUP_RATE_POINTS"
  | "SIGNUP_RATE_WINDOW_S"
  | "GUEST_RATE_POINTS"
  | "GUEST_RATE_WINDOW_S"
>;

export function createAuthLimits(env: LimitSettings, redis?: Redis): AuthLimits {
  const signInMessage = (wait: string) => `Too many sign-in attempts; try again in ${wait}`;
  return {
    signIn: createRateLimit({
      points: env.SIGNIN_RATE_POINTS,
      durationS: env.SIGNIN_RATE_WINDOW_S,
      prefix: "signin-address",
      redis,
      message: signInMessage,
    }),
    signInAccount: createRateLimit({
      points: env.SIGNIN_ACCOUNT_RATE_POINTS,
      durationS: env.SIGNIN_ACCOUNT_RATE_WINDOW_S,
      prefix: "signin-account",
      redis,
      message: signInMessage,
    }),
    signUp: createRateLimit({
      points: env.SIGNUP_RATE_POINTS,
      durationS: env.SIGNUP_RATE_WINDOW_S,
      prefix: "signup-address",
      redis,
      message: (wait) => `Too many accounts created from your network; try again in ${wait}`,
    }),
    guest: createRateLimit({
      points: env.GUEST_RATE_POINTS,
      durationS: env.GUEST_RATE_WINDOW_S,
      prefix: "guest-address",
      redis,
      message: (wait) => `Too many guests from your network; try again in ${wait}`,
    }),
  };
}

export function authLimits(): AuthLimits {
  return service("authLimits");
}

/** A sign-in form is a few hundred bytes; a larger body is refused unread. */
const MAX_SIGNIN_BODY = 16 * 1024;

/**
 * The limits on NextAuth's credentials callbacks (POST /api/auth/callback/password|passkey|guest),
 * applied before NextAuth sees the request: null to go on, or the 429 to answer. The body
 * keeps NextAuth's shape (`url` with `?error=`), so `signIn()` in the browser returns the
 * message as its `error` and the status as 429.
 */
export async function limitSignIn(req: Request, limits: AuthLimits): Promise<Response | null> {
  if (req.method !== "POST") return null;
  const provider = /\/callback\/(password|passkey|guest)\/?$/.exec(new URL(req.url).pathname)?.[1];
  if (!provider) return null;
  try {
    const address = clientAddressKey(req);
    if (provider === "guest") {
      await limits.guest.consume(address);
      return null;
    }
    await limits.signIn.consume(address);
    const form = await smallForm(req);
    if (!form) {
      return Response.json(
        { error: { code: "too_large", message: "The sign-in request is too large" } },
        { status: 413 },
      );
    }
    const email = emailSchema.safeParse(form.get("email") ?? "");
    if (email.success) await limits.signInAccount.consume(email.data);
    return null;
  } catch (err) {
    if (!isRateLimited(err)) throw err;
    const url = new URL("/signin", req.url);
    url.searchParams.set("error", err.message);
    return rateLimitedResponse(err, { url: url.toString() });
  }
}

/** A copy of the urlencoded body (NextAuth reads the original), or null past MAX_SIGNIN_BODY. */
async function smallForm(req: Request): Promise<URLSearchParams | null> {
  if (Number(req.headers.get("content-length") ?? 0) > MAX_SIGNIN_BODY) return null;
  const body = await readCapped(req.clone().body, MAX_SIGNIN_BODY);
  return body && new URLSearchParams(body.toString("utf8"));
}
