import type { attachments } from "@/lib/db/schema";
import type { AttachmentView } from "./schemas";

export type { AttachmentView } from "./schemas";

/**
 * The client's view of an attachment row. Storage keys stay on the server: a client
 * reaches the bytes only through /api/files/<id>, which checks room membership.
 */
export function toAttachmentView(row: typeof attachments.$inferSelect): AttachmentView {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    mimeType: row.mimeType,
    width: row.width,
    height: row.height,
    hasThumbnail: row.thumbnailKey !== null,
  };
}
