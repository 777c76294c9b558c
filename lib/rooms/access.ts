import "server-only";
import { and, eq, inArray, type Placeholder, type SQL, sql, type SQLWrapper } from "drizzle-orm";
import type { Queryable } from "@/lib/db/client";
import { roomMembers, rooms } from "@/lib/db/schema";
import type { MemberRole, RoomView } from "./schemas";

/**
 * Who may see a room. Every entry point (page, route handler, socket event) goes through
 * one of these. They answer null both for a room that does not exist and for one the user
 * is not in, so a caller cannot learn which.
 */
export interface RoomAccess {
  room: RoomView;
  role: MemberRole;
  lastReadSeq: number;
}

const columns = {
  id: rooms.id,
  slug: rooms.slug,
  name: rooms.name,
  kind: rooms.kind,
  lastSeq: rooms.lastSeq,
  role: roomMembers.role,
  lastReadSeq: roomMembers.lastReadSeq,
};

export function accessRoomById(
  db: Queryable,
  roomId: string,
  userId: string,
): Promise<RoomAccess | null> {
  return accessRoomWhere(db, eq(rooms.id, roomId), userId);
}

export function accessRoomBySlug(
  db: Queryable,
  slug: string,
  userId: string,
): Promise<RoomAccess | null> {
  return accessRoomWhere(db, eq(rooms.slug, slug), userId);
}

/** A room id or user id in a condition: a value, a column, or a prepared statement's placeholder. */
type Ref = string | SQLWrapper | Placeholder;

/**
 * The one rule of who may see and write to a room: the user has a membership row in it.
 * Every check here is built from it, and so is the chat send's single statement
 * (lib/chat/send-statement.ts), which folds the check into the write.
 */
export function membership(roomId: Ref, userId: Ref): SQL {
  return and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId))!;
}

/** `membership` as a condition on anything else: true when the user is in the room. */
export function isMember(roomId: Ref, userId: Ref): SQL {
  return sql`exists (select 1 from ${roomMembers} where ${membership(roomId, userId)})`;
}

async function accessRoomWhere(
  db: Queryable,
  which: SQL,
  userId: string,
): Promise<RoomAccess | null> {
  const [row] = await db
    .select(columns)
    .from(rooms)
    .innerJoin(roomMembers, membership(rooms.id, userId))
    .where(which)
    .limit(1);
  return row ? toAccess(row) : null;
}

/** Every room the user is a member of now, in one query. */
export async function accessibleRooms(db: Queryable, userId: string): Promise<RoomAccess[]> {
  const rows = await db
    .select(columns)
    .from(rooms)
    .innerJoin(roomMembers, membership(rooms.id, userId));
  return rows.map(toAccess);
}

/** Which of `roomIds` (all, if not given) the user is a member of, in one query. */
export async function memberRoomIds(
  db: Queryable,
  userId: string,
  roomIds?: readonly string[],
): Promise<string[]> {
  if (roomIds?.length === 0) return [];
  const rows = await db
    .select({ roomId: roomMembers.roomId })
    .from(roomMembers)
    .where(
      roomIds
        ? and(eq(roomMembers.userId, userId), inArray(roomMembers.roomId, [...new Set(roomIds)]))
        : eq(roomMembers.userId, userId),
    );
  return rows.map((r) => r.roomId);
}

/** Owners manage the room: rename it, remove anyone's messages. */
export function canManageRoom(access: RoomAccess): boolean {
  return access.role === "owner";
}

function toAccess(row: {
  id: string;
  slug: string;
  name: string;
  kind: RoomView["kind"];
  lastSeq: number;
  role: MemberRole;
  lastReadSeq: number;
}): RoomAccess {
  return {
    room: { id: row.id, slug: row.slug, name: row.name, kind: row.kind, lastSeq: row.lastSeq },
    role: row.role,
    lastReadSeq: row.lastReadSeq,
  };
}
