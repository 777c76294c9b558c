import "server-only";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import webpush from "web-push";
import { z } from "zod";

const secretsSchema = z.object({
  authSecret: z.string().min(32),
  callTokenSecret: z.string().min(32),
  filesMasterKey: z.string().regex(/^[0-9a-f]{64}$/),
  /** The VAPID key pair that signs Web Push requests (RFC 8292), base64url. */
  vapidPublicKey: z.string().min(80),
  vapidPrivateKey: z.string().min(40),
});
export type Secrets = z.infer<typeof secretsSchema>;

/**
 * Secrets come from the environment when set; otherwise they are generated once into
 * DATA_DIR/secrets.json (mode 0600) and reused on every start, so sessions, call tokens
 * and encrypted files survive restarts. The result is written back into process.env so
 * code that Next bundles (NextAuth, route handlers) and the SFU child read the same values.
 */
export function loadSecrets(dataDir: string, configured: Partial<Secrets> = {}): Secrets {
  const file = path.join(dataDir, "secrets.json");
  let stored: Partial<Secrets> = {};
  try {
    stored = secretsSchema.partial().parse(JSON.parse(readFileSync(file, "utf8")));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`${file} is unreadable or corrupt: ${(err as Error).message}`);
    }
  }
  const vapid =
    stored.vapidPublicKey && stored.vapidPrivateKey
      ? { publicKey: stored.vapidPublicKey, privateKey: stored.vapidPrivateKey }
      : webpush.generateVAPIDKeys();
  const generated: Secrets = {
    authSecret: stored.authSecret ?? randomBytes(32).toString("base64url"),
    callTokenSecret: stored.callTokenSecret ?? randomBytes(32).toString("base64url"),
    filesMasterKey: stored.filesMasterKey ?? randomBytes(32).toString("hex"),
    vapidPublicKey: vapid.publicKey,
    vapidPrivateKey: vapid.privateKey,
  };
  if (
    generated.authSecret !== stored.authSecret ||
    generated.callTokenSecret !== stored.callTokenSecret ||
    generated.filesMasterKey !== stored.filesMasterKey ||
    generated.vapidPublicKey !== stored.vapidPublicKey
  ) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(generated, null, 2) + "\n", { mode: 0o600 });
  }
  const secrets: Secrets = {
    authSecret: configured.authSecret ?? generated.authSecret,
    callTokenSecret: configured.callTokenSecret ?? generated.callTokenSecret,
    filesMasterKey: (configured.filesMasterKey ?? generated.filesMasterKey).toLowerCase(),
    // A pair: a configured public key without its private key (or the reverse) is not used.
    ...(configured.vapidPublicKey && configured.vapidPrivateKey
      ? { vapidPublicKey: configured.vapidPublicKey, vapidPrivateKey: configured.vapidPrivateKey }
      : { vapidPublicKey: generated.vapidPublicKey, vapidPrivateKey: generated.vapidPrivateKey }),
  };
  process.env.AUTH_SECRET = secrets.authSecret;
  process.env.NEXTAUTH_SECRET = secrets.authSecret;
  process.env.CALL_TOKEN_SECRET = secrets.callTokenSecret;
  process.env.FILES_MASTER_KEY = secrets.filesMasterKey;
  // Route handlers hand the public key to browsers subscribing (applicationServerKey).
  process.env.VAPID_PUBLIC_KEY = secrets.vapidPublicKey;
  process.env.VAPID_PRIVATE_KEY = secrets.vapidPrivateKey;
  return secrets;
}
