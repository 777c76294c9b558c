import "server-only";
import { and, count, desc, eq, isNotNull, isNull, lt, or, sum } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Queryable } from "@/lib/db/client";
import { attachments, messages, users } from "@/lib/db/schema";
import { badRequest } from "@/lib/errors";
import { accessRoomBySlug, canManageRoom } from "@/lib/rooms/access";
import { isAttachmentId, type RoomFile, type RoomFiles } from "./schemas";
import { toAttachmentView } from "./views";

const PAGE = 50;

/** The room's Files view for `user`, or null when they may not see the room. */
export async function queryRoomFiles(
  db: Queryable,
  user: SessionUser,
  slug: string,
  before: string | null,
): Promise<RoomFiles | null> {
  const access = await accessRoomBySlug(db, slug, user.id);
  if (!access) return null;
  const page = await listRoomFiles(db, access.room.id, before);
  const usage = canManageRoom(access) ? await roomStorageUse(db, access.room.id) : null;
  return { ...page, usage };
}

/**
 * The files shared in a room (sent in a message that still exists), newest first, paged
 * by a cursor "<message seq>_<id>" (seq is exact, where timestamps lose microseconds in
 * JS). The caller has checked room access.
 */
export async function listRoomFiles(
  db: Queryable,
  roomId: string,
  before: string | null,
): Promise<{ files: RoomFile[]; nextCursor: string | null }> {
  const cursor = before ? parseCursor(before) : null;
  const rows = await db
    .select({
      attachment: attachments,
      uploaderName: users.displayName,
      seq: messages.seq,
      sharedAt: messages.createdAt,
    })
    .from(attachments)
    .innerJoin(messages, eq(messages.id, attachments.messageId))
    .innerJoin(users, eq(users.id, attachments.uploaderId))
    .where(
      and(
        eq(attachments.roomId, roomId),
        isNotNull(attachments.messageId),
        isNull(messages.deletedAt),
        cursor
          ? or(
              lt(messages.seq, cursor.seq),
              and(eq(messages.seq, cursor.seq), lt(attachments.id, cursor.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(messages.seq), desc(attachments.id))
    .limit(PAGE + 1);
  const page = rows.slice(0, PAGE);
  const last = page.at(-1);
  return {
    files: page.map((r) => ({
      ...toAttachmentView(r.attachment),
      messageId: r.attachment.messageId!,
      uploaderName: r.uploaderName,
      sharedAt: r.sharedAt.toISOString(),
    })),
    nextCursor: rows.length > PAGE && last ? `${last.seq}_${last.attachment.id}` : null,
  };
}

/** Bytes and files a room keeps (every file uploaded to it, sent or not yet). */
export async function roomStorageUse(
  db: Queryable,
  roomId: string,
): Promise<{ bytes: number; files: number }> {
  const [row] = await db
    .select({ bytes: sum(attachments.size), files: count() })
    .from(attachments)
    .where(eq(attachments.roomId, roomId));
  return { bytes: Number(row?.bytes ?? 0), files: row?.files ?? 0 };
}

function parseCursor(raw: string): { seq: number; id: string } {
  const [seq, id, ...rest] = raw.split("_");
  if (rest.length || !seq || !/^\d{1,15}$/.test(seq) || !id || !isAttachmentId(id))
    throw badRequest("That is not a page cursor");
  return { seq: Number(seq), id };
}
