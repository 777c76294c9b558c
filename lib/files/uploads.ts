import "server-only";
import { buffer } from "node:stream/consumers";
import { eq } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import { isUniqueViolation } from "@/lib/db/client";
import { attachments } from "@/lib/db/schema";
import { AppError, badRequest, notFound } from "@/lib/errors";
import { accessRoomById } from "@/lib/rooms/access";
import { canHaveThumbnail } from "./media-types";
import { sanitizeFileName } from "./names";
import { openObject, writeObject } from "./objects";
import { uploadRequestSchema } from "./schemas";
import { type Files, isErrorNamed } from "./service";
import { SNIFF_BYTES } from "./sniff";
import { newStorageKey } from "./storage";
import type { Preview } from "./thumbnails";
import type { NewUpload } from "./upload-store";
import { type AttachmentView, toAttachmentView } from "./views";

/**
 * Starting and finishing an upload (the tus endpoint in ./upload-endpoint.ts calls these).
 * checkUploadStart refuses anything wrong before a byte is stored; doFinishUpload turns
 * a complete upload into an attachment.
 */

export function formatLimit(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KB`;
  return `${bytes} bytes`;
}

/** An upload that is missing, or another user's: the same answer for both. */
export const noSuchUpload = () => notFound("There is no such upload");
/** A PATCH from an offset the upload is no longer at (tus's 409). */
export const uploadMovedOn = () =>
  new AppError("conflict", "The upload moved on elsewhere; resume from the server's offset");
export const fileTooLarge = (maxBytes: number) =>
  new AppError("too_large", `Files can be at most ${formatLimit(maxBytes)}`);

/** Validates a new upload and binds it to its room, uploader, clean name and storage key. */
export async function checkUploadStart(
  files: Files,
  user: SessionUser,
  size: number | undefined,
  metadata: Record<string, string | null> | undefined,
): Promise<NewUpload> {
  if (size === undefined) throw badRequest("Say how large the file is (Upload-Length)");
  if (size === 0) throw badRequest("The file is empty");
  if (size > files.settings.maxBytes) {
    throw fileTooLarge(files.settings.maxBytes);
  }
  const parsed = uploadRequestSchema.safeParse(metadata ?? {});
  if (!parsed.success)
    throw badRequest(parsed.error.issues[0]?.message ?? "Invalid upload metadata");
  const access = await accessRoomById(files.db, parsed.data.roomId, user.id);
  if (!access) throw notFound("There is no such room");
  return {
    roomId: access.room.id,
    uploaderId: user.id,
    name: sanitizeFileName(parsed.data.name),
    storageKey: newStorageKey(),
  };
}

/**
 * Turns a complete upload into an attachment: moves its data into storage, sniffs its type,
 * makes a thumbnail, and inserts the row (id = upload id). Safe to call again: a finished
 * upload returns its attachment, and concurrent calls share one run.
 */
export function doFinishUpload(files: Files, uploadId: string): Promise<AttachmentView> {
  const running = files.finishing.get(uploadId) as Promise<AttachmentView> | undefined;
  if (running) return running;
  const run = finish(files, uploadId).finally(() => files.finishing.delete(uploadId));
  files.finishing.set(uploadId, run);
  return run;
}

async function finish(files: Files, uploadId: string): Promise<AttachmentView> {
  const info = await files.uploads.staged(uploadId);
  if (!info) throw noSuchUpload();
  const existing = await findAttachment(files, uploadId);
  if (existing) return toAttachmentView(existing);

  if (!info.adopted) {
    // A crash between the move and recording it leaves the object already in storage.
    if (!(await exists(files, info.storageKey))) {
      const upload = await files.uploads.getUpload(uploadId);
      if (upload.offset !== info.size)
        throw new AppError("conflict", "The upload is not complete yet");
      await files.storage.adopt(info.storageKey, files.uploads.dataPath(uploadId));
    }
    await files.uploads.saveInfo({ ...info, adopted: true });
  }

  const object = await openObject(files.storage, files.keys, info.storageKey);
  const sample = await buffer(
    object.read({ start: 0, end: Math.min(SNIFF_BYTES, object.size) - 1 }),
  );
  const mimeType = await files.transfers.sniff(sample);
  let preview: Preview = { thumbnail: null, width: null, height: null };
  if (canHaveThumbnail(mimeType) && object.size <= files.settings.thumbnailMaxInputBytes) {
    preview = await files.thumbnails.preview(await buffer(object.read()));
  }
  const thumbnailKey = preview.thumbnail ? newStorageKey() : null;
  if (thumbnailKey && preview.thumbnail) {
    await writeObject(files.storage, files.keys, thumbnailKey, preview.thumbnail);
  }

  try {
    const row = await files.db.transaction(async (tx) => {
      // The uploader may have left the room while uploading.
      if (!(await accessRoomById(tx, info.roomId, info.uploaderId)))
        throw notFound("There is no such room");
      const [inserted] = await tx
        .insert(attachments)
        .values({
          id: uploadId,
          roomId: info.roomId,
          uploaderId: info.uploaderId,
          name: info.name,
          size: info.size,
          mimeType,
          storageKey: info.storageKey,
          thumbnailKey,
          width: preview.width,
          height: preview.height,
        })
        .returning();
      return inserted!;
    });
    await files.uploads.saveInfo({ ...info, adopted: true, completed: true });
    return toAttachmentView(row);
  } catch (err) {
    if (thumbnailKey) await files.storage.remove(thumbnailKey);
    if (isUniqueViolation(err)) {
      const raced = await findAttachment(files, uploadId);
      if (raced) return toAttachmentView(raced);
    }
    if (err instanceof AppError && err.code === "not_found") {
      await files.storage.remove(info.storageKey);
      await files.uploads.discard(uploadId);
    }
    throw err;
  }
}

async function exists(files: Files, key: string): Promise<boolean> {
  try {
    await (await files.storage.open(key)).close();
    return true;
  } catch (err) {
    if (isErrorNamed(err, "ObjectNotFoundError")) return false;
    throw err;
  }
}

async function findAttachment(files: Files, id: string) {
  const [row] = await files.db.select().from(attachments).where(eq(attachments.id, id)).limit(1);
  return row ?? null;
}
