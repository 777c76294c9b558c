import { z } from "zod";

/**
 * An attachment's id, which is also its upload's id: a UUID as crypto.randomUUID() makes
 * it (the tus endpoint's namingFunction) and Postgres prints it, lowercase. The one
 * definition: upload and download URLs, staged-upload folders (the id becomes a path) and
 * the Files view's page cursor are all checked with it.
 */
export const attachmentIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "That is not a file id");

export function isAttachmentId(value: string): boolean {
  return attachmentIdSchema.safeParse(value).success;
}

/**
 * What clients see of a shared file, inside a message and in the room's Files view.
 * Shared by the server (which builds it in ./views.ts) and the browser (which renders it).
 * Design: docs/files.md.
 */
export const attachmentViewSchema = z.object({
  id: attachmentIdSchema,
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

/**
 * The tus Upload-Metadata a client sends when it starts an upload. `filetype` and any other
 * key a client adds are ignored: the type is sniffed from the content.
 */
export const uploadRequestSchema = z.object({
  roomId: z.uuid("Say which room the file is for"),
  name: z
    .string({ error: "Give the file a name" })
    .min(1, "Give the file a name")
    .max(1000, "That file name is too long"),
});
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

/** What the upload endpoint answers when an upload completes. */
export const uploadResultSchema = z.object({ attachment: attachmentViewSchema });

/** An error from any files endpoint (the app's usual `{ error: { code, message } }`). */
export const filesErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

/** A file in the room's Files view. */
export const roomFileSchema = attachmentViewSchema.extend({
  messageId: z.string(),
  uploaderName: z.string(),
  sharedAt: z.string(),
});
export type RoomFile = z.infer<typeof roomFileSchema>;

export const roomFilesSchema = z.object({
  files: z.array(roomFileSchema),
  /** Pass as `before` for the next (older) page; null at the start of the room. */
  nextCursor: z.string().nullable(),
  /** Only for the room's owner. */
  usage: z.object({ bytes: z.number(), files: z.number() }).nullable(),
});
export type RoomFiles = z.infer<typeof roomFilesSchema>;

/** GET /api/files query. */
export const roomFilesQuerySchema = z.object({
  room: z.string().min(1).max(64),
  before: z.string().max(80).optional(),
});
