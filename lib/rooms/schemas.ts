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

/** A room in the list of rooms you belong to. */
export interface RoomSummary extends RoomView {
  role: MemberRole;
  lastReadSeq: number;
  unreadCount: number;
  /** Of those, the ones that mention you (or @room). */
  mentionCount: number;
  /** When the last message was sent, ISO 8601; null when there is none. */
  lastMessageAt: string | null;
}
