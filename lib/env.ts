import { isIP } from "node:net";
import { z } from "zod";

/**
 * The web node's configuration, parsed once from the environment. Secrets that are not
 * set are generated into DATA_DIR by `lib/server/secrets.ts` before anything reads them.
 */
/** An empty variable (FOO=) means unset, as shells and .env files usually intend. */
const unsetIfEmpty = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v) => (v === "" ? undefined : v), inner);

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  /** Where everything the app keeps lives: embedded database, files, generated secrets. */
  DATA_DIR: z.string().min(1).default(".data"),
  /** node-postgres connection string; unset means embedded PGlite under DATA_DIR. */
  DATABASE_URL: unsetIfEmpty(z.url().optional()),
  /** Redis for the Socket.IO adapter, rate limits and the SFU registry; unset means in-process. */
  REDIS_URL: unsetIfEmpty(z.url().optional()),
  /** The public origin (scheme://host[:port]); defaults to the request's own host. */
  PUBLIC_URL: unsetIfEmpty(z.url().optional()),
  /** Extra origins allowed to open a socket or send API writes, comma separated. */
  ALLOWED_ORIGINS: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  AUTH_SECRET: unsetIfEmpty(z.string().min(32).optional()),
  CALL_TOKEN_SECRET: unsetIfEmpty(z.string().min(32).optional()),
  FILES_MASTER_KEY: unsetIfEmpty(
    z
      .string()
      .regex(/^[0-9a-f]{64}$/i, "FILES_MASTER_KEY must be 64 hex characters (32 bytes)")
      .optional(),
  ),
  CHAT_MAX_MESSAGE_LENGTH: z.coerce.number().int().min(1).max(100_000).default(4000),
  /** Messages (sends, edits, reactions) a user may make per CHAT_RATE_WINDOW_S. */
  CHAT_RATE_POINTS: z.coerce.number().int().min(1).default(30),
  CHAT_RATE_WINDOW_S: z.coerce.number().int().min(1).default(10),
  /**
   * Proxies (addresses or CIDRs, comma separated) whose X-Forwarded-For / Forwarded headers
   * name the client. From anyone else those headers are ignored and the socket's address is
   * the client's (lib/server/client-address.ts).
   */
  TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform((s, ctx) => {
      const entries = s
        .split(",")
        .map((e) => e.trim())
        .filter(Boolean);
      for (const entry of entries) {
        if (!isAddressOrCidr(entry)) {
          ctx.addIssue({ code: "custom", message: `${entry} is not an IP address or CIDR` });
        }
      }
      return entries;
    }),
  /** Sign-in attempts (password or guest) per client address per window. */
  SIGNIN_RATE_POINTS: z.coerce.number().int().min(1).default(20),
  SIGNIN_RATE_WINDOW_S: z.coerce.number().int().min(1).default(60),
  /** Password sign-in attempts per account (email) per window, from any address. */
  SIGNIN_ACCOUNT_RATE_POINTS: z.coerce.number().int().min(1).default(10),
  SIGNIN_ACCOUNT_RATE_WINDOW_S: z.coerce.number().int().min(1).default(900),
  /** Accounts created per client address per window. */
  SIGNUP_RATE_POINTS: z.coerce.number().int().min(1).default(5),
  SIGNUP_RATE_WINDOW_S: z.coerce.number().int().min(1).default(3600),
  /** Guests created per client address per window. */
  GUEST_RATE_POINTS: z.coerce.number().int().min(1).default(20),
  GUEST_RATE_WINDOW_S: z.coerce.number().int().min(1).default(600),
  /** Socket.IO commands per socket: a burst of this many, refilled at SOCKET_COMMAND_RATE_PER_S. */
  SOCKET_COMMAND_BURST: z.coerce.number().int().min(1).default(100),
  SOCKET_COMMAND_RATE_PER_S: z.coerce.number().min(0.1).default(20),
  FILES_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(100 * 1024 * 1024),
  // --- Notifications (lib/notify, docs/notifications.md) ---
  /** VAPID key pair (base64url, as `web-push generate-vapid-keys` prints); unset: generated into DATA_DIR. */
  VAPID_PUBLIC_KEY: unsetIfEmpty(
    z
      .string()
      .regex(/^[\w-]{86,88}$/, "VAPID_PUBLIC_KEY must be a base64url P-256 public key")
      .optional(),
  ),
  VAPID_PRIVATE_KEY: unsetIfEmpty(
    z
      .string()
      .regex(/^[\w-]{42,44}$/, "VAPID_PRIVATE_KEY must be a base64url P-256 private key")
      .optional(),
  ),
  /** Who push services contact about this server: mailto: or https:. Default: PUBLIC_URL, else a mailto: placeholder. */
  VAPID_SUBJECT: unsetIfEmpty(
    z
      .string()
      .regex(/^(mailto:|https:\/\/)/, "VAPID_SUBJECT must start with mailto: or https://")
      .optional(),
  ),
  /** Server-wide privacy mode: pushes never carry what a message says, only "New message". */
  PUSH_PRIVACY: z.stringbool().default(false),
  /**
   * Origins allowed as plain-http push endpoints (comma separated; tests' local push service).
   * Everything else must be https.
   */
  PUSH_INSECURE_ORIGINS: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  /** In rooms with more members than this, only owners can notify everyone with @room. */
  MENTION_ROOM_MAX_MEMBERS: z.coerce.number().int().min(0).default(50),
  /** SMTP server for the email digest (smtp://user:pass@host:port or smtps://); unset: no email. */
  SMTP_URL: unsetIfEmpty(z.url().optional()),
  SMTP_FROM: z.string().default("Parley <parley@localhost>"),
  /** Minutes a mention or direct message stays unread before it is mailed. */
  EMAIL_DIGEST_DELAY_MIN: z.coerce.number().min(0).default(10),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

export type Env = z.infer<typeof schema>;

function isAddressOrCidr(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

let parsed: Env | undefined;

/** The parsed environment. Throws a readable error naming every bad variable. */
export function env(): Env {
  parsed ??= parseEnv(process.env);
  return parsed;
}

/** Parses a configuration from any source (tests build their own). */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}
