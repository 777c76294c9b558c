import "server-only";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Server } from "socket.io";
import type { Db, Tx } from "@/lib/db/client";
import { isUniqueViolation } from "@/lib/db/client";
import {
  attachments,
  messages,
  notifyPrefs,
  passkeys,
  pushSubscriptions,
  reactions,
  roomMembers,
  roomNotifySettings,
  roomRemovals,
  rooms,
  users,
  webauthnChallenges,
} from "@/lib/db/schema";
import { queryRows } from "@/lib/db/sql";
import { AppError, badRequest, notFound } from "@/lib/errors";
import { channel } from "@/lib/realtime/protocol";
import { handOverRoom } from "@/lib/rooms/service";
import { hashPassword, verifyPassword } from "./password";
import type { SessionUser } from "./schemas";
import { toSessionUser } from "./service";

/**
 * Account management (settings): a guest becoming an account, changing the password,
 * deleting the account. Sign out everywhere is in ./service.ts; passkeys in ./passkeys.ts.
 */

/**
 * A guest keeps its identity (id, rooms, history) and gains an email and password. The
 * session goes on: the row is the same user at the same session version.
 */
export async function doUpgradeGuest(
  db: Db,
  userId: string,
  input: { email: string; password: string },
): Promise<SessionUser> {
  const passwordHash = await hashPassword(input.password);
  let row;
  try {
    [row] = await db
      .update(users)
      .set({ email: input.email, passwordHash, isGuest: false })
      .where(and(eq(users.id, userId), isNull(users.email), isNull(users.deletedAt)))
      .returning();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError("conflict", "An account with that email already exists");
    }
    throw err;
  }
  if (!row) throw new AppError("conflict", "This account already has an email and password");
  return toSessionUser(row);
}

/**
 * Changes the password after checking the current one. Every session of the account ends
 * (its session version moves on: lib/auth/service.ts), sockets included; the caller gives
 * this browser a new session at the returned version, so only the others end.
 */
export async function doChangePassword(
  db: Db,
  io: Server | null,
  userId: string,
  input: { currentPassword: string; newPassword: string },
): Promise<number> {
  const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  if (!row) throw notFound("No such account");
  if (!row.passwordHash) throw badRequest("This account has no password to change");
  if (!(await verifyPassword(row.passwordHash, input.currentPassword))) {
    throw badRequest("Your current password is not right");
  }
  const passwordHash = await hashPassword(input.newPassword);
  const [updated] = await db
    .update(users)
    .set({ passwordHash, sessionVersion: sql`${users.sessionVersion} + 1` })
    .where(eq(users.id, userId))
    .returning({ sessionVersion: users.sessionVersion });
  io?.in(channel.user(userId)).disconnectSockets(true);
  return updated!.sessionVersion;
}

/** What a deleted account's files were stored as, for the caller to remove after commit. */
export interface DeletedObjects {
  storageKeys: string[];
}

/**
 * Deletes an account, in one transaction (a failure anywhere leaves everything as it was):
 *
 * - Rooms it owns pass to the longest-standing other member (accounts before guests), as
 *   when an owner leaves; a room with no one else in it is deleted with all it holds.
 * - Its messages in the rooms that remain are erased (text emptied, marked deleted) through
 *   the rooms' event logs, so every client applies the deletion when it next catches up.
 * - Its reactions are taken back the same way; its files (shared or not yet sent) go: the
 *   rows here, the stored bytes by the caller after commit (and by the files sweep, which
 *   removes any object no row names, if the process stops in between).
 * - Its memberships, passkeys, push subscriptions and notification settings are deleted.
 * - The user row stays, emptied (no email, password or name: "Deleted account"), at a new
 *   session version, so every session ends and the rooms' logs still point somewhere.
 *
 * `password` is required when the account has one.
 */
export async function doDeleteAccount(
  db: Db,
  userId: string,
  password: string | undefined,
): Promise<DeletedObjects> {
  const [current] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
    .limit(1);
  if (!current) throw notFound("No such account");
  if (current.passwordHash && !(await verifyPassword(current.passwordHash, password ?? ""))) {
    throw badRequest("Enter your password to delete your account");
  }
  return db.transaction(async (tx) => {
    await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for("update");

    // Owned rooms: an heir, or the room goes.
    const owned = await tx
      .select({ roomId: roomMembers.roomId })
      .from(roomMembers)
      .where(and(eq(roomMembers.userId, userId), eq(roomMembers.role, "owner")));
    for (const { roomId } of owned) {
      if ((await handOverRoom(tx, roomId, userId)) === null)
        await tx.delete(rooms).where(eq(rooms.id, roomId));
    }

    // Its files: rows now, bytes after commit.
    const files = await tx
      .delete(attachments)
      .where(eq(attachments.uploaderId, userId))
      .returning({ storageKey: attachments.storageKey, thumbnailKey: attachments.thumbnailKey });

    // Its messages, erased with one message.deleted event each (per room, gapless).
    await logged(
      tx,
      userId,
      "message.deleted",
      sql`update messages set deleted_at = now(), body = '', file_names = ''
          where author_id = ${userId} and deleted_at is null returning id, room_id`,
    );
    // Its reactions on messages still there, with one reaction.changed event per message.
    const reacted = await tx
      .selectDistinct({ id: reactions.messageId })
      .from(reactions)
      .innerJoin(messages, eq(messages.id, reactions.messageId))
      .where(and(eq(reactions.userId, userId), isNull(messages.deletedAt)));
    await tx.delete(reactions).where(eq(reactions.userId, userId));
    if (reacted.length > 0) {
      const ids = reacted.map((r) => r.id);
      await logged(
        tx,
        userId,
        "reaction.changed",
        sql`select id, room_id from messages where id in ${ids}`,
      );
    }

    await tx.delete(roomMembers).where(eq(roomMembers.userId, userId));
    await tx.delete(roomRemovals).where(eq(roomRemovals.userId, userId));
    await tx.delete(roomNotifySettings).where(eq(roomNotifySettings.userId, userId));
    await tx.delete(notifyPrefs).where(eq(notifyPrefs.userId, userId));
    await tx.delete(pushSubscriptions).where(eq(pushSubscriptions.userId, userId));
    await tx.delete(passkeys).where(eq(passkeys.userId, userId));
    await tx.delete(webauthnChallenges).where(eq(webauthnChallenges.userId, userId));
    await tx
      .update(users)
      .set({
        email: null,
        passwordHash: null,
        displayName: "Deleted account",
        isGuest: true,
        sessionVersion: sql`${users.sessionVersion} + 1`,
        deletedAt: sql`now()`,
      })
      .where(eq(users.id, userId));

    return {
      storageKeys: files.flatMap((f) =>
        f.thumbnailKey ? [f.storageKey, f.thumbnailKey] : [f.storageKey],
      ),
    };
  });
}

/**
 * Runs `rows` (a statement yielding `id, room_id` of the messages it changed) and logs one
 * event of `type` per message, taking each room's next seqs in one update so the log stays
 * gapless. A data-modifying statement can only sit at the top of a WITH, hence the CTE.
 */
async function logged(
  tx: Tx,
  actorId: string,
  type: "message.deleted" | "reaction.changed",
  rows: ReturnType<typeof sql>,
): Promise<number> {
  const [result] = await queryRows<{ n: number | string }>(
    tx,
    sql`with changed as (${rows}),
        numbered as (
          select id, room_id, row_number() over (partition by room_id order by id) as n
          from changed
        ),
        counts as (select room_id, count(*) as c from changed group by room_id),
        bumped as (
          update rooms set last_seq = rooms.last_seq + counts.c
          from counts where rooms.id = counts.room_id
          returning rooms.id, rooms.last_seq - counts.c as base
        ),
        logged as (
          insert into room_events (room_id, seq, type, actor_id, message_id)
          select numbered.room_id, bumped.base + numbered.n, ${type}, ${actorId}, numbered.id
          from numbered join bumped on bumped.id = numbered.room_id
          returning 1
        )
        select count(*) as n from logged`,
  );
  return Number(result?.n ?? 0);
}

/** Ends the deleted account's open sockets (after commit). */
export function disconnectUser(io: Server, userId: string): void {
  io.in(channel.user(userId)).disconnectSockets(true);
}
