import { z } from "zod";
import { integer } from "@/lib/config/settings";

/**
 * File sharing's settings (one part of the configuration lib/env.ts composes), and what the
 * files feature derives from them. docs/files.md lists them all.
 */
export const filesEnv = z.object({
  /** Encrypts stored files; unset: generated into DATA_DIR (lib/server/secrets.ts). */
  FILES_MASTER_KEY: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, "FILES_MASTER_KEY must be 64 hex characters (32 bytes)")
    .optional(),
  /**
   * Only while rotating a configured FILES_MASTER_KEY (docs/files.md, "Rotating the master
   * key"): the key being replaced. Objects it still wraps stay readable until re-wrapped.
   */
  FILES_MASTER_KEY_PREVIOUS: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, "FILES_MASTER_KEY_PREVIOUS must be 64 hex characters (32 bytes)")
    .optional(),
  /** The largest upload. */
  FILES_MAX_BYTES: integer(1).default(100 * 1024 * 1024),
  /** An upload not finished (or a finished file not sent in a message) within this is removed. */
  FILES_UPLOAD_EXPIRY_MINUTES: integer(1).default(24 * 60),
  /** Images with more pixels than this get no thumbnail and are never shown inline (decompression bombs). */
  FILES_MAX_IMAGE_PIXELS: integer(1).default(50_000_000),
  /** Images larger than this get no thumbnail: sharp holds its input in memory. */
  FILES_THUMBNAIL_MAX_INPUT_BYTES: integer(1).default(40 * 1024 * 1024),
  /** Storage one user's files may take, uploads in progress included (lib/files/quota.ts). */
  FILES_USER_QUOTA_BYTES: integer(1).default(1024 * 1024 * 1024),
  /** Storage one room's files may take, uploads in progress included. */
  FILES_ROOM_QUOTA_BYTES: integer(1).default(5 * 1024 * 1024 * 1024),
  /** Uploads one user may have started and not finished (on one web node). */
  FILES_MAX_PENDING_UPLOADS: integer(1).default(10),
});

export type FilesEnv = z.output<typeof filesEnv>;

/** The previous key only makes sense beside the key it is being rotated to. */
export function checkFilesEnv(config: FilesEnv, ctx: z.RefinementCtx): void {
  if (config.FILES_MASTER_KEY_PREVIOUS && !config.FILES_MASTER_KEY) {
    ctx.addIssue({
      code: "custom",
      path: ["FILES_MASTER_KEY_PREVIOUS"],
      message: "FILES_MASTER_KEY_PREVIOUS needs FILES_MASTER_KEY (the key it is rotated to)",
    });
  }
}

export interface FilesSettings {
  maxBytes: number;
  uploadExpiryMs: number;
  maxImagePixels: number;
  thumbnailMaxInputBytes: number;
  /** Thumbnails fit inside this many pixels square. */
  thumbnailSize: number;
  userQuotaBytes: number;
  roomQuotaBytes: number;
  maxPendingUploads: number;
}

/** The files feature's settings, from the parsed configuration. */
export function filesSettings(
  env: Omit<FilesEnv, "FILES_MASTER_KEY" | "FILES_MASTER_KEY_PREVIOUS">,
): FilesSettings {
  return {
    maxBytes: env.FILES_MAX_BYTES,
    uploadExpiryMs: env.FILES_UPLOAD_EXPIRY_MINUTES * 60_000,
    maxImagePixels: env.FILES_MAX_IMAGE_PIXELS,
    thumbnailMaxInputBytes: env.FILES_THUMBNAIL_MAX_INPUT_BYTES,
    thumbnailSize: 480,
    userQuotaBytes: env.FILES_USER_QUOTA_BYTES,
    roomQuotaBytes: env.FILES_ROOM_QUOTA_BYTES,
    maxPendingUploads: env.FILES_MAX_PENDING_UPLOADS,
  };
}
