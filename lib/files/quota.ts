import "server-only";
import { eq, or, sql } from "drizzle-orm";
import { formatBytes } from "@/components/files/format";
import type { Queryable } from "@/lib/db/client";
import { attachments } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
import type { Files } from "./service";
import type { NewUpload } from "./upload-store";

/**
 * Storage quotas, checked when an upload is created: a user's files (in every room) and a
 * room's files (by everyone) may take at most FILES_USER_QUOTA_BYTES / FILES_ROOM_QUOTA_BYTES,
 * and a user may have at most FILES_MAX_PENDING_UPLOADS uploads unfinished.
 *
 * An upload counts for its whole declared size from the moment it is created (a
 * reservation, ./upload-store.ts), so what it streams afterwards — it can never stream more
 * than it declared — is already within the quota; once finished, its attachment row
 * counts instead. Reservations live on the node that stages the upload (uploads are staged
 * on one node), so with several web nodes the limits on unfinished uploads are per node;
 * finished files count on every node.
 */
export async function reserveUpload(
  files: Files,
  id: string,
  size: number,
  binding: Pick<NewUpload, "uploaderId" | "roomId">,
): Promise<void> {
  const { settings, uploads } = files;
  const { uploaderId, roomId } = binding;
  const pending = uploads.reserved({ uploaderId }).count;
  if (pending >= settings.maxPendingUploads) {
    throw new AppError(
      "rate_limited",
      `You have ${pending} uploads unfinished; let one finish or cancel it first`,
    );
  }
  // Claimed before the query, so uploads created at the same time see each other.
  uploads.reserve(id, { uploaderId, roomId, size, at: Date.now() });
  try {
    const used = await storageInUse(files.db, uploaderId, roomId);
    const userTotal = used.user + uploads.reserved({ uploaderId }).bytes;
    if (userTotal > settings.userQuotaBytes) {
      throw new AppError(
        "too_large",
        `Not enough storage left: your files may take ${formatBytes(settings.userQuotaBytes)} in all, ` +
          `and ${formatBytes(userTotal - size)} are in use`,
      );
    }
    const roomTotal = used.room + uploads.reserved({ roomId }).bytes;
    if (roomTotal > settings.roomQuotaBytes) {
      throw new AppError(
        "too_large",
        `Not enough storage left in this room: its files may take ${formatBytes(settings.roomQuotaBytes)} in all, ` +
          `and ${formatBytes(roomTotal - size)} are in use`,
      );
    }
  } catch (err) {
    uploads.release(id);
    throw err;
  }
}

/** Bytes of finished files a user uploaded (anywhere) and a room holds (by anyone), in one query. */
async function storageInUse(
  db: Queryable,
  userId: string,
  roomId: string,
): Promise<{ user: number; room: number }> {
  const [row] = await db
    .select({
      user: sql<string>`coalesce(sum(${attachments.size}) filter (where ${attachments.uploaderId} = ${userId}), 0)`,
      room: sql<string>`coalesce(sum(${attachments.size}) filter (where ${attachments.roomId} = ${roomId}), 0)`,
    })
    .from(attachments)
    .where(or(eq(attachments.uploaderId, userId), eq(attachments.roomId, roomId)));
  return { user: Number(row?.user ?? 0), room: Number(row?.room ?? 0) };
}
