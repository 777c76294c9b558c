import "server-only";
import { randomBytes } from "node:crypto";
import {
  fsyncSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import webpush from "web-push";
import { z } from "zod";

const secretsSchema = z.object({
  authSecret: z.string().min(32),
  callTokenSecret: z.string().min(32),
  filesMasterKey: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * Only while a rotation of the files master key is under way: the key it replaces, which
   * still opens the objects not yet re-wrapped (lib/files/rotation.ts).
   */
  filesMasterKeyPrevious: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** The VAPID key pair that signs Web Push requests (RFC 8292), base64url. */
  vapidPublicKey: z.string().min(80),
  vapidPrivateKey: z.string().min(40),
});
export type Secrets = z.infer<typeof secretsSchema>;

/** Checks a complete set of secrets (one restored from a backup, say); throws if invalid. */
export function parseSecrets(value: unknown): Secrets {
  return secretsSchema.parse(value);
}

/**
 * Secrets come from the environment when set; otherwise they are generated once into
 * DATA_DIR/secrets.json (mode 0600) and reused on every start, so sessions, call tokens
 * and encrypted files survive restarts. The result is returned, never written into
 * process.env: server.ts hands it to the features (NodeContext), to the code Next bundles
 * (`runtime().secrets`: NextAuth's options, the session cookie reader) and to the SFU child
 * (CALL_TOKEN_SECRET in its environment, lib/call/sfu-process.ts).
 */
export function loadSecrets(dataDir: string, configured: Partial<Secrets> = {}): Secrets {
  const stored = readStoredSecrets(dataDir);
  const vapid =
    stored.vapidPublicKey && stored.vapidPrivateKey
      ? { publicKey: stored.vapidPublicKey, privateKey: stored.vapidPrivateKey }
      : webpush.generateVAPIDKeys();
  const generated: Secrets = {
    authSecret: stored.authSecret ?? randomBytes(32).toString("base64url"),
    callTokenSecret: stored.callTokenSecret ?? randomBytes(32).toString("base64url"),
    filesMasterKey: stored.filesMasterKey ?? randomBytes(32).toString("hex"),
    ...(stored.filesMasterKeyPrevious
      ? { filesMasterKeyPrevious: stored.filesMasterKeyPrevious }
      : {}),
    vapidPublicKey: vapid.publicKey,
    vapidPrivateKey: vapid.privateKey,
  };
  if (
    generated.authSecret !== stored.authSecret ||
    generated.callTokenSecret !== stored.callTokenSecret ||
    generated.filesMasterKey !== stored.filesMasterKey ||
    generated.vapidPublicKey !== stored.vapidPublicKey
  ) {
    writeStoredSecrets(dataDir, generated);
  }
  // A configured key brings its own previous key (FILES_MASTER_KEY_PREVIOUS), or none.
  const previous = configured.filesMasterKey
    ? configured.filesMasterKeyPrevious
    : generated.filesMasterKeyPrevious;
  const secrets: Secrets = {
    authSecret: configured.authSecret ?? generated.authSecret,
    callTokenSecret: configured.callTokenSecret ?? generated.callTokenSecret,
    filesMasterKey: (configured.filesMasterKey ?? generated.filesMasterKey).toLowerCase(),
    ...(previous ? { filesMasterKeyPrevious: previous.toLowerCase() } : {}),
    // A pair, configured whole or not at all (lib/notify/settings.ts checks).
    ...(configured.vapidPublicKey && configured.vapidPrivateKey
      ? { vapidPublicKey: configured.vapidPublicKey, vapidPrivateKey: configured.vapidPrivateKey }
      : { vapidPublicKey: generated.vapidPublicKey, vapidPrivateKey: generated.vapidPrivateKey }),
  };
  return secrets;
}

const secretsFile = (dataDir: string) => path.join(dataDir, "secrets.json");

/** The secrets the configuration sets (the rest come from, or go to, DATA_DIR/secrets.json). */
export function configuredSecrets(config: {
  AUTH_SECRET?: string;
  CALL_TOKEN_SECRET?: string;
  FILES_MASTER_KEY?: string;
  FILES_MASTER_KEY_PREVIOUS?: string;
  VAPID_PUBLIC_KEY?: string;
  VAPID_PRIVATE_KEY?: string;
}): Partial<Secrets> {
  return {
    authSecret: config.AUTH_SECRET,
    callTokenSecret: config.CALL_TOKEN_SECRET,
    filesMasterKey: config.FILES_MASTER_KEY,
    filesMasterKeyPrevious: config.FILES_MASTER_KEY_PREVIOUS,
    vapidPublicKey: config.VAPID_PUBLIC_KEY,
    vapidPrivateKey: config.VAPID_PRIVATE_KEY,
  };
}

/** What DATA_DIR/secrets.json holds (nothing when it does not exist yet). */
export function readStoredSecrets(dataDir: string): Partial<Secrets> {
  const file = secretsFile(dataDir);
  try {
    return secretsSchema.partial().parse(JSON.parse(readFileSync(file, "utf8")));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new Error(`${file} is unreadable or corrupt: ${(err as Error).message}`);
  }
}

/**
 * Replaces DATA_DIR/secrets.json whole (mode 0600): written to a temporary file, flushed
 * and renamed over it, so a crash leaves the old file or the new one, never half of each.
 */
export function writeStoredSecrets(dataDir: string, secrets: Secrets): void {
  const parsed = secretsSchema.parse(secrets);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = secretsFile(dataDir);
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(temp, JSON.stringify(parsed, null, 2) + "\n", { mode: 0o600 });
  const fd = openSync(temp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}
