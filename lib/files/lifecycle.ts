import "server-only";
import { and, eq, inArray, isNull, lt, or } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import { attachments } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";
import { logger } from "@/lib/server/log";
import type { Files } from "./service";

const log = logger("files");

/**
 * How files go away: with their message, when never sent, and when nothing refers to them
 * any more. Rows are deleted first and objects after, so a failure can only leave an
 * unreferenced object, which the orphan sweep removes later; never a row without bytes.
 */

type StoredKeys = { storageKey: string; thumbnailKey: string | null };

/** A message was deleted: its files go too (registered as a chat message-deleted hook). */
export async function doDeleteMessageFiles(files: Files, messageId: string): Promise<number> {
  const rows = await files.db
    .delete(attachments)
    .where(eq(attachments.messageId, messageId))
    .returning({ storageKey: attachments.storageKey, thumbnailKey: attachments.thumbnailKey });
  await removeObjects(files, rows);
  return rows.length;
}

/** The uploader takes back a finished file they have not sent yet (removed from the composer). */
export async function doRemoveUnsentFile(
  files: Files,
  user: SessionUser,
  attachmentId: string,
): Promise<void> {
  const rows = await files.db
    .delete(attachments)
    .where(
      and(
        eq(attachments.id, attachmentId),
        eq(attachments.uploaderId, user.id),
        isNull(attachments.messageId),
      ),
    )
    .returning({ storageKey: attachments.storageKey, thumbnailKey: attachments.thumbnailKey });
  if (rows.length === 0) throw notFound("There is no such unsent file");
  await removeObjects(files, rows);
}

export interface SweepResult {
  expiredUploads: number;
  unsentFiles: number;
  orphanObjects: number;
}

/**
 * Removes what was abandoned: unfinished uploads and finished files never sent in a
 * message, once older than the upload expiry, and stored objects no row refers to (from a
 * crash between steps, or a deleted room). Runs periodically; `now` is for tests.
 */
export async function sweepAbandonedFiles(files: Files, now = Date.now()): Promise<SweepResult> {
  const cutoff = new Date(now - files.settings.uploadExpiryMs);
  const expiredUploads = await files.uploads.deleteExpired(now);
  const unsent = await files.db
    .delete(attachments)
    .where(and(isNull(attachments.messageId), lt(attachments.createdAt, cutoff)))
    .returning({ storageKey: attachments.storageKey, thumbnailKey: attachments.thumbnailKey });
  await removeObjects(files, unsent);
  const orphanObjects = await removeOrphans(files, cutoff);
  return { expiredUploads, unsentFiles: unsent.length, orphanObjects };
}

async function removeOrphans(files: Files, cutoff: Date): Promise<number> {
  let removed = 0;
  let batch: string[] = [];
  const check = async () => {
    const referenced = await files.db
      .select({ storageKey: attachments.storageKey, thumbnailKey: attachments.thumbnailKey })
      .from(attachments)
      .where(or(inArray(attachments.storageKey, batch), inArray(attachments.thumbnailKey, batch)));
    const used = new Set(referenced.flatMap((r) => [r.storageKey, r.thumbnailKey]));
    for (const key of batch) {
      if (used.has(key)) continue;
      await files.storage.remove(key);
      removed++;
    }
    batch = [];
  };
  for await (const object of files.storage.list()) {
    // Young objects may belong to an upload being finished right now.
    if (object.modifiedAt >= cutoff) continue;
    batch.push(object.key);
    if (batch.length >= 500) await check();
  }
  if (batch.length) await check();
  return removed;
}

async function removeObjects(files: Files, rows: StoredKeys[]): Promise<void> {
  for (const row of rows) {
    for (const key of [row.storageKey, row.thumbnailKey]) {
      if (!key) continue;
      await files.storage.remove(key).catch((err: unknown) => {
        // The row is gone; the orphan sweep will retry the object.
        log.warn("could not remove a stored object", { key, err: String(err) });
      });
    }
  }
}
