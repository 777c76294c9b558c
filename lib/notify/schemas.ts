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

/**
 * The mention syntax, as pattern sources written in what JavaScript's RegExp and
 * PostgreSQL's regular expressions read alike, so the parser below and the database's
 * mention counts (lib/notify/mentions-sql.ts) use one definition: what is a code block, a
 * code span, a mention link and `@room`. Where a mention is looked for: the message with its
 * code blocks, then its code spans (and, for `@room`, its mention links) cut out — each cut
 * leaves a line break, so nothing joins across it.
 */
export const MENTION_SYNTAX = {
  /** A fenced code block, to its closing fence or the end of the message (`.` is any character). */
  codeBlock: "```.*?(```|$)",
  /** A code span on one line. */
  codeSpan: "`[^`\\n]*`",
  /** A mention link, `[@Name](mention:<uuid>)`: the name is group 1, the id group 2. */
  link: "\\[@([^\\]\\n]{1,80})\\]\\(mention:([0-9a-f-]{36})\\)",
  /** `@room` on its own: not inside a word or an address. */
  room: "(?<![A-Za-z0-9_@])@room(?![A-Za-z0-9_])",
} as const;

// "s": a dot matches line breaks too, as in PostgreSQL.
const CODE_BLOCK = new RegExp(MENTION_SYNTAX.codeBlock, "gs");
const CODE_SPAN = new RegExp(MENTION_SYNTAX.codeSpan, "g");
const MENTION = new RegExp(MENTION_SYNTAX.link, "g");
const ROOM_MENTION = new RegExp(MENTION_SYNTAX.room);

/** Who a message mentions, and whether it says @room. Code spans and blocks are ignored. */
export function parseMentions(body: string): { userIds: string[]; room: boolean } {
  const text = body.replace(CODE_BLOCK, "\n").replace(CODE_SPAN, "\n");
  const userIds = new Set<string>();
  for (const m of text.matchAll(MENTION)) userIds.add(m[2]!);
  return { userIds: [...userIds], room: ROOM_MENTION.test(text.replace(MENTION, "\n")) };
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

/**
 * The markdown with `@room` made a mention link, for rendering: code and mention links are
 * left as written, and `@room` is found exactly where parseMentions finds it (the pieces
 * between them are what parseMentions sees between its line breaks).
 */
export function linkRoomMentions(body: string): string {
  if (!body.includes("@room")) return body;
  const room = new RegExp(MENTION_SYNTAX.room, "g");
  const linkText = (text: string) => text.replace(room, "[@room](mention:room)");
  const outside = (text: string, patterns: RegExp[], inner: (t: string) => string): string => {
    const [first, ...rest] = patterns;
    if (!first) return inner(text);
    let out = "";
    let at = 0;
    for (const m of text.matchAll(first)) {
      out += outside(text.slice(at, m.index), rest, inner) + m[0];
      at = m.index + m[0].length;
    }
    return out + outside(text.slice(at), rest, inner);
  };
  return outside(body, [CODE_BLOCK, CODE_SPAN, MENTION], linkText);
}
