import { z } from "zod";

/** Room links carry 18 characters of Crockford base32: 90 bits, grouped for reading. */
export const SLUG_PATTERN = /^[0-9a-hjkmnp-tv-z]{6}-[0-9a-hjkmnp-tv-z]{6}-[0-9a-hjkmnp-tv-z]{6}$/;

export const slugSchema = z.string().regex(SLUG_PATTERN, "That is not a room link");
export const roomIdSchema = z.uuid("That is not a room id");

const UNSAFE_TEXT = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

export const roomNameSchema = z
  .string({ error: "Enter a room name" })
  .trim()
  .min(1, "Enter a room name")
  .max(80, "A room name is at most 80 characters")
  .refine((s) => !UNSAFE_TEXT.test(s), "A room name can't contain control characters");

export const roomKindSchema = z.enum(["open", "private"]);

export const createRoomSchema = z.object({
  name: roomNameSchema.optional(),
  kind: roomKindSchema.default("open"),
});
export type CreateRoomInput = z.input<typeof createRoomSchema>;

/** Finding people by name: the composer's `@` list, the quick switcher. */
export const personQuerySchema = z.object({
  /** The start of a display name (or of any word in it); empty lists the first ones. */
  q: z.string().max(80, "Search for at most 80 characters").default(""),
  limit: z.coerce.number().int().min(1).max(20).default(8),
});

export const renameRoomSchema = z.object({ name: roomNameSchema });

export type MemberRole = "owner" | "member" | "guest";
export type RoomKind = "open" | "private" | "direct";

/** A room as its members see it. */
export interface RoomView {
  id: string;
  slug: string;
  name: string;
  kind: RoomKind;
  /** The last seq in the room's event log. */
  lastSeq: number;
}

/** A room in the list of rooms you belong to, as the database has it. */
export interface StoredRoomSummary extends RoomView {
  role: MemberRole;
  lastReadSeq: number;
  unreadCount: number;
  /** Of those, the ones that mention you (or @room). */
  mentionCount: number;
  /** When the last message was sent, ISO 8601; null when there is none. */
  lastMessageAt: string | null;
}

/** A room in your list of rooms (home, the sidebar): the stored summary and its call. */
export interface RoomSummary extends StoredRoomSummary {
  /**
   * How many people are in the room's call now (0: no call). From the web node's sockets,
   * not the database (lib/realtime/call-handlers.ts, `callCounts`); kept live by `call.roster`.
   */
  callCount: number;
}

/**
 * What a watched room's log did, as home lists see it (`room.activity`): one per event of
 * the room's log, in seq order, with what an unread count needs. A list applies the one
 * after the seq it holds, ignores older ones and catches up on a gap, as the chat does.
 */
export type RoomActivity = { roomId: string; seq: number } & (
  | {
      type: "message.created";
      authorId: string;
      createdAt: string;
      /** Who it mentions, and whether it says @room: for mention counts (lib/notify). */
      mentions: string[];
      mentionsRoom: boolean;
    }
  | { type: "message.deleted"; authorId: string; messageSeq: number }
  | { type: "message.edited" | "reaction.changed" }
  | { type: "room.renamed"; name: string }
);

/**
 * Your read position in a room moved (`read.updated`, to all your tabs and devices): where
 * it is, and the room's unread count for you as of `seq`, the room's last seq then.
 */
export interface ReadPosition {
  roomId: string;
  lastReadSeq: number;
  seq: number;
  unreadCount: number;
}

/**
 * What a rooms do* function asks to be published once its change has committed
 * (lib/realtime/publish.ts publishes it, as it does chat's room events).
 */
export type RoomsNotice =
  /** These people's lists of rooms changed (a room made, joined, left, opened): they re-watch. */
  | { type: "rooms.changed"; userIds: string[] }
  /** The user's read position moved. */
  | ({ type: "read.moved"; userId: string } & ReadPosition)
  /** The user is no longer in the room (left, or `removed` by its owner): their sockets leave it now. */
  | { type: "member.gone"; roomId: string; userId: string; removed: boolean };
