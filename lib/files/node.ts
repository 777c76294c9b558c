import "server-only";
import path from "node:path";
import { getSessionUserFromCookieHeader } from "@/lib/auth/session";
import { onMessageDeleted } from "@/lib/chat/hooks";
import type { NodeContext } from "@/lib/server/context";
import type { Feature } from "@/lib/server/feature";
import type { AllowedOrigins } from "@/lib/realtime/origin";
import { logger } from "@/lib/server/log";
import { provide } from "@/lib/server/runtime";
import { DiskStorage } from "./disk-storage";
import { withRemovalHolds } from "./storage";
import { MasterKeys, parseMasterKey } from "./crypto/encryption";
import { doDeleteMessageFiles, sweepAbandonedFiles } from "./lifecycle";
import type { Files } from "./service";
import { rotateFilesKey, type KeySource } from "./rotation";
import { filesSettings } from "./settings";
import { ThumbnailMaker } from "./thumbnails";
import { Transfers } from "./crypto/transfers";
import { createFilesHandler } from "./http/handler";
import type { Authenticate } from "./http/upload-endpoint";
import { EncryptedUploadStore } from "./upload-store";

const log = logger("files");

/**
 * File sharing on the web node (docs/files.md): the files HTTP surface as plain-Node
 * routes (./http/handler.ts), the shared Files service (published for the Files list's
 * route handler), the message-deleted hook, and the periodic sweep of abandoned uploads.
 */
export async function createFilesFeature(ctx: NodeContext): Promise<Feature> {
  const settings = filesSettings(ctx.env);
  const files = await openFiles({
    db: ctx.database.db,
    root: path.join(ctx.dataDir, "files"),
    masterKeyHex: ctx.secrets.filesMasterKey,
    previousMasterKeyHex: ctx.secrets.filesMasterKeyPrevious,
    settings,
  });
  provide("files", files);
  if (files.keys.previous) {
    // A rotation of the master key was started (or interrupted): finish it in the background.
    void rotateFilesKey({ files, dataDir: ctx.dataDir, keySource: filesKeySource(ctx.env) })
      .then((report) => log.info("files master key rotated", { ...report }))
      .catch((err: unknown) => log.error("rotating the files master key", { err: String(err) }));
  }
  const stopHook = onMessageDeleted(async ({ messageId }) => {
    await doDeleteMessageFiles(files, messageId);
  });
  return startFilesFeature(files, {
    authenticate: (cookie) => getSessionUserFromCookieHeader(cookie, files.db),
    allowedOrigins: { publicUrl: ctx.env.PUBLIC_URL, extra: ctx.env.ALLOWED_ORIGINS },
    stopHook,
  });
}

/** Where the files master key comes from: the environment, or DATA_DIR/secrets.json. */
export function filesKeySource(env: { FILES_MASTER_KEY?: string }): KeySource {
  return env.FILES_MASTER_KEY ? "environment" : "data-dir";
}

/** Builds the Files service over a data folder (also used by tests and the benchmark). */
export async function openFiles(options: {
  db: Files["db"];
  root: string;
  masterKeyHex: string;
  /** While a key rotation is under way (./rotation.ts): the key it rotates away from. */
  previousMasterKeyHex?: string;
  settings: Files["settings"];
}): Promise<Files> {
  const keys = new MasterKeys(
    parseMasterKey(options.masterKeyHex),
    options.previousMasterKeyHex ? parseMasterKey(options.previousMasterKeyHex) : null,
  );
  const transfers = new Transfers();
  return {
    db: options.db,
    storage: withRemovalHolds(await DiskStorage.create(path.join(options.root, "objects"))),
    keys,
    settings: options.settings,
    uploads: await EncryptedUploadStore.create(
      path.join(options.root, "uploads"),
      keys,
      options.settings.uploadExpiryMs,
      transfers,
    ),
    transfers,
    thumbnails: new ThumbnailMaker({
      maxPixels: options.settings.maxImagePixels,
      size: options.settings.thumbnailSize,
    }),
    finishing: new Map(),
  };
}

/**
 * The feature over a built Files service (also used by tests and the benchmark): the HTTP
 * surface and the sweep timer. `allowedOrigins` defaults to this host alone.
 */
export function startFilesFeature(
  files: Files,
  options: { authenticate: Authenticate; allowedOrigins?: AllowedOrigins; stopHook?: () => void },
): Feature {
  const { authenticate, allowedOrigins = { extra: [] }, stopHook = () => {} } = options;
  const http = createFilesHandler(files, { authenticate, allowedOrigins });
  const sweep = async () => {
    try {
      const result = await sweepAbandonedFiles(files);
      if (result.expiredUploads || result.unsentFiles || result.orphanObjects)
        log.info("swept abandoned files", { ...result });
    } catch (err) {
      log.warn("sweeping abandoned files failed", { err: String(err) });
    }
  };
  // Often enough that an abandoned upload outlives its expiry by at most half of it.
  const every = Math.min(files.settings.uploadExpiryMs / 2, 60 * 60_000);
  const timer = setInterval(() => void sweep(), every);
  timer.unref();
  const first = setTimeout(() => void sweep(), 60_000);
  first.unref();

  return {
    name: "files",
    handleRequest: (req, res) => http.handleRequest(req, res),
    ready: () => true,
    async close() {
      clearInterval(timer);
      clearTimeout(first);
      stopHook();
      await files.transfers.close();
    },
  };
}
