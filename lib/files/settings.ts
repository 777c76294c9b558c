import "server-only";
import { z } from "zod";
import type { Env } from "@/lib/env";

/**
 * File sharing's settings. FILES_MAX_BYTES comes from the app's environment (lib/env.ts);
 * the rest are file-sharing details with sensible defaults, read here once. docs/files.md
 * lists them all.
 */
const schema = z.object({
  /** An upload not finished (or a finished file not sent in a message) within this is removed. */
  FILES_UPLOAD_EXPIRY_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(24 * 60),
  /** Images with more pixels than this get no thumbnail and are never shown inline (decompression bombs). */
  FILES_MAX_IMAGE_PIXELS: z.coerce.number().int().min(1).default(50_000_000),
  /** Images larger than this get no thumbnail: sharp holds its input in memory. */
  FILES_THUMBNAIL_MAX_INPUT_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(40 * 1024 * 1024),
  /** Storage one user's files may take, uploads in progress included (lib/files/quota.ts). */
  FILES_USER_QUOTA_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(1024 * 1024 * 1024),
  /** Storage one room's files may take, uploads in progress included. */
  FILES_ROOM_QUOTA_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(5 * 1024 * 1024 * 1024),
  /** Uploads one user may have started and not finished (on one web node). */
  FILES_MAX_PENDING_UPLOADS: z.coerce.number().int().min(1).default(10),
});

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

export function filesSettings(
  env: Pick<Env, "FILES_MAX_BYTES">,
  raw: NodeJS.ProcessEnv = process.env,
): FilesSettings {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid file sharing configuration:\n${lines.join("\n")}`);
  }
  return {
    maxBytes: env.FILES_MAX_BYTES,
    uploadExpiryMs: result.data.FILES_UPLOAD_EXPIRY_MINUTES * 60_000,
    maxImagePixels: result.data.FILES_MAX_IMAGE_PIXELS,
    thumbnailMaxInputBytes: result.data.FILES_THUMBNAIL_MAX_INPUT_BYTES,
    thumbnailSize: 480,
    userQuotaBytes: result.data.FILES_USER_QUOTA_BYTES,
    roomQuotaBytes: result.data.FILES_ROOM_QUOTA_BYTES,
    maxPendingUploads: result.data.FILES_MAX_PENDING_UPLOADS,
  };
}
