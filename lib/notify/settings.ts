import { z } from "zod";
import { bool, integer, list } from "@/lib/config/settings";

/** Notifications' settings (one part of the configuration lib/env.ts composes). docs/notifications.md. */
export const notifyEnv = z.object({
  /** VAPID key pair (base64url, as `npx web-push generate-vapid-keys` prints); unset: generated into DATA_DIR. */
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[\w-]{86,88}$/, "VAPID_PUBLIC_KEY must be a base64url P-256 public key")
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[\w-]{42,44}$/, "VAPID_PRIVATE_KEY must be a base64url P-256 private key")
    .optional(),
  /** Who push services may contact about this server: mailto: or https:. Default: PUBLIC_URL if https. */
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, "VAPID_SUBJECT must start with mailto: or https://")
    .optional(),
  /** Server-wide privacy mode: pushes never carry what a message says, only "New message". */
  PUSH_PRIVACY: bool.default(false),
  /**
   * Origins allowed as plain-http push endpoints on any address (tests' local push service);
   * every other endpoint must be https: at a public address.
   */
  PUSH_INSECURE_ORIGINS: list,
  /**
   * The share of a core, in percent, each push worker may use on average: a fan-out to
   * thousands of devices is spread out so the rest of the node (other rooms' sends) keeps
   * its pace. 100: as fast as the worker can.
   */
  PUSH_WORKER_CPU_PERCENT: integer(1, 100).default(50),
  /** In rooms with more members than this, only owners can notify everyone with @room. */
  MENTION_ROOM_MAX_MEMBERS: integer(0).default(50),
  /** SMTP server for the email digest (smtp://user:pass@host:port, smtps://…); unset: no email. */
  SMTP_URL: z.url().optional(),
  SMTP_FROM: z.string().default("Parley <parley@localhost>"),
  /** Minutes a mention or direct message stays unread before it is mailed. */
  EMAIL_DIGEST_DELAY_MINUTES: integer(0).default(10),
});

export type NotifyEnv = z.output<typeof notifyEnv>;

/** A VAPID key pair is configured whole or not at all. */
export function checkNotifyEnv(config: NotifyEnv, ctx: z.RefinementCtx): void {
  if (!!config.VAPID_PUBLIC_KEY !== !!config.VAPID_PRIVATE_KEY) {
    ctx.addIssue({
      code: "custom",
      path: [config.VAPID_PUBLIC_KEY ? "VAPID_PRIVATE_KEY" : "VAPID_PUBLIC_KEY"],
      message: "Set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither",
    });
  }
}
