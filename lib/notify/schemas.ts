import { z } from "zod";

/**
 * Notifications, both ends: what a device sends to subscribe, the levels a person picks,
 * what a push carries, and how a mention is written in a message. Design:
 * docs/notifications.md.
 */

const base64url = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^[\w-]+={0,2}$/, `${what} must be base64url`)
    .min(min, `${what} is too short`)
    .max(max, `${what} is too long`);

/** A browser's PushSubscription as `subscription.toJSON()` gives it, plus a label. */
export const subscribeSchema = z.object({
  endpoint: z.url("endpoint must be a URL").max(2000, "endpoint is too long"),
  keys: z.object({
    /** P-256 public key, 65 bytes uncompressed: 87 base64url characters. */
    p256dh: base64url("keys.p256dh", 86, 88),
    /** 16-byte authentication secret: 22 base64url characters. */
    auth: base64url("keys.auth", 22, 24),
  }),
  label: z.string().trim().max(120).optional(),
});
export type SubscribeInput = z.infer<typeof subscribeSchema>;

export const unsubscribeSchema = z.object({ id: z.uuid("That is not a subscription id") });

export const notifyLevelSchema = z.enum(["all", "mentions", "nothing"]);
export type NotifyLevel = z.infer<typeof notifyLevelSchema>;

/** PATCH of a room's settings for the signed-in person; `level: null` goes back to the default. */
export const roomNotifySchema = z
  .object({ level: notifyLevelSchema.nullable().optional(), muted: z.boolean().optional() })
  .refine((v) => v.level !== undefined || v.muted !== undefined, "Nothing to change");

/** PATCH of a person's switches. `dndMinutes: 0` turns do-not-disturb off. */
export const prefsSchema = z
  .object({
    dndMinutes: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60, "Do not disturb lasts at most a week")
      .optional(),
    privacy: z.boolean().optional(),
    emailDigest: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), "Nothing to change");

export interface SubscriptionView {
  id: string;
  label: string;
  createdAt: string;
  lastSuccessAt: string | null;
}

export interface PrefsView {
  dndUntil: string | null;
  privacy: boolean;
  emailDigest: boolean;
}

export interface RoomNotifyView {
  /** The level in effect (the default when none was chosen). */
  level: NotifyLevel;
  /** Whether the person chose it (false: the default for the room's kind). */
  chosen: boolean;
  muted: boolean;
}

/** The default level: direct conversations notify everything, rooms only mentions. */
export function defaultLevel(kind: "open" | "private" | "direct"): NotifyLevel {
  return kind === "direct" ? "all" : "mentions";
}

/** What a push carries (JSON, encrypted for the device); the service worker shows it. */
export interface PushPayload {
  kind: "message" | "call";
  title: string;
  body: string;
  /** Collapses a burst: one notification per room (and one per call). */
  tag: string;
  /** Where a click goes: the room, at the message. */
  url: string;
  roomId: string;
  seq: number;
  icon: string;
  /** Milliseconds since the epoch, when it happened. */
  timestamp: number;
}

/** A mention in a message's markdown: a link with the `mention:` scheme. */
export function mentionMarkdown(userId: string, displayName: string): string {
  const safe = displayName.replace(/[[\]\\]/g, "");
  return `[@${safe}](mention:${userId})`;
}

const MENTION = /\[@([^\]\n]{1,80})\]\(mention:([0-9a-f-]{36})\)/g;
/** `@room` on its own (not inside a word or an address). */
const ROOM_MENTION = /(^|[^\w@])@room\b/;

/** Who a message mentions, and whether it says @room. Code spans and blocks are ignored. */
export function parseMentions(body: string): { userIds: string[]; room: boolean } {
  const text = withoutCode(body);
  const userIds = new Set<string>();
  for (const m of text.matchAll(MENTION)) userIds.add(m[2]!);
  return { userIds: [...userIds], room: ROOM_MENTION.test(text.replace(MENTION, "")) };
}

function withoutCode(body: string): string {
  return body.replace(/```[\s\S]*?(```|$)/g, " ").replace(/`[^`\n]*`/g, " ");
}

/** A message as one line of plain text (mentions as @Name), for previews and email. */
export function plainPreview(body: string, max = 140): string {
  const flat = body
    .replace(MENTION, "@$1")
    // Quote and heading markers at line starts; emphasis and code marks anywhere.
    .replace(/^[ \t]{0,3}(?:>|#{1,6})[ \t]?/gm, "")
    .replace(/[*_~`]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

/** The markdown with `@room` made a mention link, for rendering; code is left as written. */
export function linkRoomMentions(body: string): string {
  if (!body.includes("@room")) return body;
  return body
    .split(/(```[\s\S]*?(?:```|$)|`[^`\n]*`)/g)
    .map((part, i) =>
      i % 2 === 1 ? part : part.replace(/(^|[^\w@[])@room\b/g, "$1[@room](mention:room)"),
    )
    .join("");
}
