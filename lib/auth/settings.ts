import { z } from "zod";
import { integer } from "@/lib/config/settings";

/** Sign-in's settings (one part of the configuration lib/env.ts composes). */
export const authEnv = z.object({
  /** Signs session tokens; unset: generated into DATA_DIR (lib/server/secrets.ts). */
  AUTH_SECRET: z.string().min(32).optional(),
  /** Sign-in attempts (password or guest) per client address per window. */
  SIGNIN_RATE_POINTS: integer(1).default(20),
  SIGNIN_RATE_WINDOW_S: integer(1).default(60),
  /** Password sign-in attempts per account (email) per window, from any address. */
  SIGNIN_ACCOUNT_RATE_POINTS: integer(1).default(10),
  SIGNIN_ACCOUNT_RATE_WINDOW_S: integer(1).default(900),
  /** Accounts created per client address per window. */
  SIGNUP_RATE_POINTS: integer(1).default(5),
  SIGNUP_RATE_WINDOW_S: integer(1).default(3600),
  /** Guests created per client address per window. */
  GUEST_RATE_POINTS: integer(1).default(20),
  GUEST_RATE_WINDOW_S: integer(1).default(600),
  /** The name authenticators show for this site when a passkey is made. */
  PASSKEY_RP_NAME: z.string().trim().min(1).max(64).default("Parley"),
  /** How long a passkey ceremony's challenge stays valid (it answers once in any case). */
  PASSKEY_CHALLENGE_TTL_S: integer(30, 600).default(300),
});
