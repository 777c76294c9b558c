import { z } from "zod";
import { type AttachmentView, MAX_ATTACHMENTS_PER_MESSAGE } from "@/lib/files/schemas";

export type { AttachmentView };

/** Hard ceiling on a message body; the configured limit (CHAT_MAX_MESSAGE_LENGTH) is lower. */
export const MESSAGE_BODY_CEILING = 100_000;
export const HISTORY_PAGE_SIZE = 50;
export const SYNC_PAGE_SIZE = 200;

export const messageIdSchema = z.uuid("That is not a message id");

/** A reaction is one emoji (with its modifiers and joiners), nothing else. */
export const emojiSchema = z
  .string()
  .min(1)
  .max(32, "That is not an emoji")
  // One character class (ZWJ and VS16 are Emoji_Components): overlapping alternatives
  // under `+` backtrack exponentially.
  .regex(/^[\p{Extended_Pictographic}\p{Emoji_Component}]+$/u, "That is not an emoji");

export const sendMessageSchema = z.object({
  roomId: z.uuid(),
  clientId: z.uuid("clientId must be a UUID"),
  body: z.string().max(MESSAGE_BODY_CEILING, "That message is too long"),
  replyToId: messageIdSchema.optional(),
  attachmentIds: z
    .array(z.uuid())
    .max(MAX_ATTACHMENTS_PER_MESSAGE, `At most ${MAX_ATTACHMENTS_PER_MESSAGE} files per message`)
    .optional(),
});
export type SendMessageInput = z.infer<typeof sendMessageSchema>;

export const editMessageSchema = z.object({
  roomId: z.uuid(),
  messageId: messageIdSchema,
  body: z.string().max(MESSAGE_BODY_CEILING, "That message is too long"),
});

export const deleteMessageSchema = z.object({ roomId: z.uuid(), messageId: messageIdSchema });

export const reactSchema = z.object({
  roomId: z.uuid(),
  messageId: messageIdSchema,
  emoji: emojiSchema,
  /** true adds your reaction, false removes it; both are idempotent. */
  on: z.boolean(),
});

const cursorSeq = z.coerce
  .number("A message position is a whole number")
  .int("A message position is a whole number")
  .min(0, "A message position is a whole number")
  .max(Number.MAX_SAFE_INTEGER, "That message position is out of range");

/**
 * Where a page of history is: the newest (no cursor), older than `before`, newer than
 * `after`, or `around` a message (the message and its neighbours on both sides).
 */
export interface HistoryCursor {
  before?: number;
  after?: number;
  around?: number;
}

export const historyQuerySchema = z
  .object({
    before: cursorSeq.optional(),
    after: cursorSeq.optional(),
    around: cursorSeq.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(HISTORY_PAGE_SIZE),
  })
  .refine(
    (q) => [q.before, q.after, q.around].filter((v) => v !== undefined).length <= 1,
    "Give at most one of before, after and around",
  );

export interface ReactionView {
  emoji: string;
  count: number;
  userIds: string[];
}

export interface MessageView {
  id: string;
  roomId: string;
  /** Its place in the room: the seq of the event that created it. */
  seq: number;
  clientId: string;
  author: { id: string; displayName: string };
  /** Markdown source; empty once deleted. */
  body: string;
  replyTo: { id: string; authorName: string; excerpt: string; deleted: boolean } | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  reactions: ReactionView[];
  attachments: AttachmentView[];
}

export type MessageEventType =
  "message.created" | "message.edited" | "message.deleted" | "reaction.changed";

/** One entry of a room's event log as clients receive it, live or in catch-up. */
export type RoomEvent =
  | { type: MessageEventType; roomId: string; seq: number; message: MessageView }
  | { type: "room.renamed"; roomId: string; seq: number; name: string };

export interface HistoryPage {
  /** Oldest first. */
  messages: MessageView[];
  /** Whether older messages exist. */
  hasMore: boolean;
  /** Whether newer messages existed when the page was read (false: it reaches the live end). */
  hasNewer: boolean;
  /** The room's last seq when the page was read: events after it are not in the page. */
  lastSeq: number;
}

export interface SyncPage {
  /** Events after the requested seq, oldest first. */
  events: RoomEvent[];
  /** The page covers every seq up to this one (an event about a vanished object is dropped). */
  throughSeq: number;
  lastSeq: number;
  hasMore: boolean;
}
