import "server-only";
import { and, asc, eq, inArray, ne, type SQL, sql } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Db, Tx } from "@/lib/db/client";
import { mentionsRoomSql, mentionsUserSql } from "@/lib/notify/mentions-sql";
import { roomMembers, roomRemovals, rooms } from "@/lib/db/schema";
import { queryRows } from "@/lib/db/sql";
import { AppError, badRequest, forbidden, notFound } from "@/lib/errors";
import { accessRoomById, accessRoomBySlug, canManageRoom, type RoomAccess } from "./access";
import type { RoomEvent } from "@/lib/chat/schemas";
import type { MemberRole, ReadPosition, RoomsNotice, StoredRoomSummary } from "./schemas";
import { isInviteToken, newInviteToken, newRoomSlug } from "./slug";

/**
 * Rooms: create, join by link, rename, leave, remove a member, list. check* functions reject what bad
 * input can cause; do* functions write, and return with their result the `events` their
 * change means to others, which the caller publishes once it has committed
 * (lib/realtime/publish.ts), as chat's do* functions do.
 */

/** What a do* function changed, and what to publish about it. */
export type WithEvents<T> = T & { events: Array<RoomsNotice | RoomEvent> };

const listChanged = (...userIds: string[]): RoomsNotice => ({ type: "rooms.changed", userIds });

export async function doCreateRoom(
  db: Db,
  user: SessionUser,
  input: { name?: string; kind: "open" | "private" },
): Promise<WithEvents<RoomAccess>> {
  const name = input.name ?? `${user.displayName}'s room`;
  const access = await db.transaction(async (tx): Promise<RoomAccess> => {
    const [room] = await tx
      .insert(rooms)
      .values({
        slug: newRoomSlug(),
        name,
        kind: input.kind,
        inviteToken: input.kind === "private" ? newInviteToken() : null,
        createdBy: user.id,
      })
      .returning();
    if (!room) throw new Error("insert returned no row");
    await tx.insert(roomMembers).values({ roomId: room.id, userId: user.id, role: "owner" });
    return {
      room: { id: room.id, slug: room.slug, name: room.name, kind: room.kind, lastSeq: 0 },
      role: "owner",
      lastReadSeq: 0,
    };
  });
  return { ...access, events: [listChanged(user.id)] };
}

/**
 * Opening a room's link joins it: anyone may join an open room, a private room needs its
 * invite token, a direct conversation nobody new. Joining twice is a no-op. A room the
 * user may not join answers not-found, like a room that does not exist. Someone an owner
 * removed cannot come back by the link (as in Slack): they are told so.
 */
export async function doJoinRoomBySlug(
  db: Db,
  user: SessionUser,
  slug: string,
  inviteToken?: string,
): Promise<WithEvents<{ access: RoomAccess; joined: boolean }>> {
  const existing = await accessRoomBySlug(db, slug, user.id);
  if (existing) return { access: existing, joined: false, events: [] };

  const [room] = await db.select().from(rooms).where(eq(rooms.slug, slug)).limit(1);
  const mayJoin =
    room &&
    (room.kind === "open" ||
      (room.kind === "private" &&
        !!inviteToken &&
        !!room.inviteToken &&
        isInviteToken(inviteToken, room.inviteToken)));
  if (!room || !mayJoin) throw notFound("There is no room at this link, or it has ended");
  const [removed] = await db
    .select({ at: roomRemovals.removedAt })
    .from(roomRemovals)
    .where(and(eq(roomRemovals.roomId, room.id), eq(roomRemovals.userId, user.id)))
    .limit(1);
  if (removed) throw forbidden("You were removed from this room and cannot rejoin it by its link");

  const role: MemberRole = user.isGuest ? "guest" : "member";
  const inserted = await db
    .insert(roomMembers)
    .values({ roomId: room.id, userId: user.id, role, lastReadSeq: 0 })
    .onConflictDoNothing()
    .returning();
  const access = await accessRoomById(db, room.id, user.id);
  if (!access) throw new Error("membership vanished after insert");
  const joined = inserted.length > 0;
  return { access, joined, events: joined ? [listChanged(user.id)] : [] };
}

/** Renames the room (owners only) and logs it; returns the event's seq. */
export async function doRenameRoom(
  db: Db,
  user: SessionUser,
  roomId: string,
  name: string,
): Promise<WithEvents<{ seq: number; name: string }>> {
  const access = await accessRoomById(db, roomId, user.id);
  if (!access) throw notFound("There is no such room");
  if (!canManageRoom(access)) throw forbidden("Only the room's owner can rename it");
  const [row] = await queryRows<{ seq: number }>(
    db,
    sql`with next as (
          update ${rooms} set name = ${name}, last_seq = last_seq + 1
          where id = ${roomId} returning last_seq
        )
        insert into room_events (room_id, seq, type, actor_id, payload)
        select ${roomId}, next.last_seq, 'room.renamed', ${user.id}, ${JSON.stringify({ name })}::jsonb
        from next
        returning seq`,
  );
  if (!row) throw notFound("There is no such room");
  const seq = Number(row.seq);
  return { seq, name, events: [{ type: "room.renamed", roomId, seq, name }] };
}

/**
 * Makes the longest-standing member other than `owner` (accounts before guests) the room's
 * owner, inside the caller's transaction: when its owner leaves or deletes their account, a
 * room is never left without one while anyone is in it. The heir's id, or null when nobody
 * else is in the room.
 */
export async function handOverRoom(tx: Tx, roomId: string, owner: string): Promise<string | null> {
  const [heir] = await tx
    .select({ userId: roomMembers.userId })
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), ne(roomMembers.userId, owner)))
    .orderBy(sql`${roomMembers.role} = 'guest'`, asc(roomMembers.joinedAt))
    .limit(1);
  if (!heir) return null;
  await tx
    .update(roomMembers)
    .set({ role: "owner" })
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, heir.userId)));
  return heir.userId;
}

/**
 * Leaves the room. When its owner leaves, the longest-standing member (accounts before
 * guests) becomes the owner, so a room is never left without one while anyone is in it.
 */
export async function doLeaveRoom(
  db: Db,
  user: SessionUser,
  roomId: string,
): Promise<WithEvents<{ left: true }>> {
  await db.transaction(async (tx) => {
    const [left] = await tx
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, user.id)))
      .returning();
    if (!left) throw notFound("You are not in that room");
    if (left.role === "owner") await handOverRoom(tx, roomId, user.id);
  });
  return {
    left: true,
    events: [
      { type: "member.gone", roomId, userId: user.id, removed: false },
      listChanged(user.id),
    ],
  };
}

/**
 * Removes another member from the room (owners only; not from direct conversations, which
 * have no owner). The membership goes, so every membership check refuses them from now
 * on, and the removal is stored so that the room's link does not let them back in. Its
 * events take their sockets out of the room and tell their tabs.
 */
export async function doRemoveMember(
  db: Db,
  owner: SessionUser,
  roomId: string,
  userId: string,
): Promise<WithEvents<{ removed: true }>> {
  const access = await accessRoomById(db, roomId, owner.id);
  if (!access) throw notFound("There is no such room");
  if (!canManageRoom(access)) throw forbidden("Only the room's owner can remove people");
  if (userId === owner.id) throw badRequest("To leave the room yourself, use Leave room");
  await db.transaction(async (tx) => {
    const [removed] = await tx
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
      .returning();
    if (!removed) throw notFound("That person is not in this room");
    await tx
      .insert(roomRemovals)
      .values({ roomId, userId, removedBy: owner.id })
      .onConflictDoUpdate({
        target: [roomRemovals.roomId, roomRemovals.userId],
        set: { removedBy: owner.id, removedAt: sql`now()` },
      });
  });
  return {
    removed: true,
    events: [{ type: "member.gone", roomId, userId, removed: true }, listChanged(userId)],
  };
}

/**
 * Moves the user's read position forward (never back, never past the room's last seq) and
 * returns where it now is, with the room's unread count for them as of the room's last
 * seq: all read in the one statement, so the three agree.
 */
export async function doMarkRead(
  db: Db,
  userId: string,
  roomId: string,
  seq: number,
): Promise<WithEvents<ReadPosition>> {
  const [row] = await queryRows<{ last_read_seq: string; seq: string; unread: number }>(
    db,
    sql`update ${roomMembers}
        set last_read_seq = least(greatest(last_read_seq, ${seq}),
          (select last_seq from ${rooms} where id = ${roomId}))
        where room_id = ${roomId} and user_id = ${userId}
        returning last_read_seq,
          (select last_seq from ${rooms} where id = ${roomId}) as seq,
          (${unreadCount(sql`${roomId}::uuid`, sql`${roomMembers.lastReadSeq}`, userId)}) as unread`,
  );
  if (!row) throw notFound("You are not in that room");
  const position: ReadPosition = {
    roomId,
    lastReadSeq: Number(row.last_read_seq),
    seq: Number(row.seq),
    unreadCount: Number(row.unread),
  };
  return { ...position, events: [{ type: "read.moved", userId, ...position }] };
}

/** What "unread" means, once: others' messages after the read position, not deleted. */
function unreadCount(roomId: SQL, lastReadSeq: SQL, userId: string): SQL {
  return sql`select count(*)::int from messages m
    where m.room_id = ${roomId} and m.seq > ${lastReadSeq}
      and m.author_id <> ${userId} and m.deleted_at is null`;
}

/**
 * The rooms a user belongs to (of `only`, if given), most recently active first, with
 * unread counts. One statement, so every room's count agrees with its `lastSeq`.
 */
export async function listRoomsForUser(
  db: Db,
  userId: string,
  only?: readonly string[],
): Promise<StoredRoomSummary[]> {
  if (only?.length === 0) return [];
  const rows = await db
    .select({
      id: rooms.id,
      slug: rooms.slug,
      name: rooms.name,
      kind: rooms.kind,
      lastSeq: rooms.lastSeq,
      role: roomMembers.role,
      lastReadSeq: roomMembers.lastReadSeq,
      unreadCount: sql<number>`(${unreadCount(sql`${rooms.id}`, sql`${roomMembers.lastReadSeq}`, userId)})`,
      // Unread messages that mention you or say @room (as lib/notify/schemas.ts parses them).
      mentionCount: sql<number>`(${unreadCount(sql`${rooms.id}`, sql`${roomMembers.lastReadSeq}`, userId)}
        and (${mentionsUserSql(sql`m.body`, sql`${userId}::uuid`)} or ${mentionsRoomSql(sql`m.body`)}))`,
      lastMessageAt: sql<string | null>`(
        select max(m.created_at) from messages m where m.room_id = ${rooms.id})`,
    })
    .from(roomMembers)
    .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
    .where(
      only
        ? and(eq(roomMembers.userId, userId), inArray(roomMembers.roomId, [...only]))
        : eq(roomMembers.userId, userId),
    )
    // Most recently active first: the last message, or when you joined if there is none.
    .orderBy(
      sql`greatest(${roomMembers.joinedAt}, (select max(m.created_at) from messages m where m.room_id = ${rooms.id})) desc`,
    );
  return rows.map((r) => ({
    ...r,
    unreadCount: Number(r.unreadCount),
    mentionCount: Number(r.mentionCount),
    lastMessageAt: r.lastMessageAt ? new Date(r.lastMessageAt).toISOString() : null,
  }));
}

/**
 * Opens the direct conversation between two people, creating it the first time. Only
 * people who share a room can start one, so a user id alone reaches nobody.
 */
export async function doOpenDirectRoom(
  db: Db,
  me: SessionUser,
  otherUserId: string,
): Promise<WithEvents<RoomAccess>> {
  if (otherUserId === me.id) throw badRequest("Pick someone other than yourself");
  const [shared] = await queryRows<{ id: string; display_name: string }>(
    db,
    sql`select u.id, u.display_name from users u
        where u.id = ${otherUserId} and exists (
          select 1 from room_members a join room_members b on a.room_id = b.room_id
          where a.user_id = ${me.id} and b.user_id = u.id)`,
  );
  if (!shared) throw notFound("There is no such person in your rooms");

  return db.transaction(async (tx) => {
    // One conversation per pair: serialise concurrent opens of the same pair.
    const pair = [me.id, otherUserId].sort().join(":");
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${"direct:" + pair}))`);
    const [existing] = await queryRows<{ id: string }>(
      tx,
      sql`select r.id from rooms r
          where r.kind = 'direct'
            and exists (select 1 from room_members m where m.room_id = r.id and m.user_id = ${me.id})
            and exists (select 1 from room_members m where m.room_id = r.id and m.user_id = ${otherUserId})
          limit 1`,
    );
    let roomId = existing?.id;
    if (!roomId) {
      const [room] = await tx
        .insert(rooms)
        .values({
          slug: newRoomSlug(),
          name: `${me.displayName} & ${shared.display_name}`,
          kind: "direct",
          createdBy: me.id,
        })
        .returning({ id: rooms.id });
      roomId = room!.id;
      await tx.insert(roomMembers).values([
        { roomId, userId: me.id, role: "member" },
        { roomId, userId: otherUserId, role: "member" },
      ]);
    }
    const access = await accessRoomById(tx, roomId, me.id);
    if (!access) throw new Error("direct room without its member");
    return { ...access, events: existing ? [] : [listChanged(me.id, otherUserId)] };
  });
}

/** For the owner of a private room: the link that lets others in. */
export async function inviteLinkPath(db: Db, access: RoomAccess): Promise<string> {
  if (access.room.kind !== "private") return `/r/${access.room.slug}`;
  const [row] = await db
    .select({ token: rooms.inviteToken })
    .from(rooms)
    .where(eq(rooms.id, access.room.id));
  if (!row?.token) throw new AppError("internal", "private room without an invite token");
  return `/r/${access.room.slug}?invite=${row.token}`;
}
