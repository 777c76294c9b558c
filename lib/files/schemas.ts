import { z } from "zod";

/**
 * What clients see of a shared file, inside a message and in the room's Files view.
 * Shared by the server (which builds it in ./views.ts) and the browser (which renders it).
 * Design: docs/files.md.
 */
export const attachmentViewSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  size: z.number().int().nonnegative(),
  /** Sniffed from the content on upload; never the type the client claimed. */
  mimeType: z.string(),
  width: z.number().int().positive().nullable(),
  height: z.number().int().positive().nullable(),
  hasThumbnail: z.boolean(),
});
export type AttachmentView = z.infer<typeof attachmentViewSchema>;

/** How many files one message may carry (the chat service enforces it too). */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;
