import "server-only";
import { and, eq, isNull, or } from "drizzle-orm";
import type { Queryable } from "@/lib/db/client";
import { attachments, messages, roomMembers } from "@/lib/db/schema";

export type AttachmentRow = typeof attachments.$inferSelect;

/**
 * The attachment `userId` may download, or null. Null alike for a missing id, another
 * room's file, and a deleted message's file, so a guessed id tells nothing. A file not yet
 * sent in a message is visible only to its uploader.
 */
export async function accessAttachmentById(
  db: Queryable,
  attachmentId: string,
  userId: string,
): Promise<AttachmentRow | null> {
  const [row] = await db
    .select({ attachment: attachments })
    .from(attachments)
    .innerJoin(roomMembers, eq(roomMembers.roomId, attachments.roomId))
    .leftJoin(messages, eq(messages.id, attachments.messageId))
    .where(
      and(
        eq(attachments.id, attachmentId),
        eq(roomMembers.userId, userId),
        or(eq(attachments.uploaderId, userId), eq(messages.roomId, attachments.roomId)),
        isNull(messages.deletedAt),
      ),
    )
    .limit(1);
  return row?.attachment ?? null;
}
