import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { getSessionUserFromCookieHeader } from "@/lib/auth/session";
import { onMessageDeleted } from "@/lib/chat/hooks";
import type { NodeContext } from "@/lib/server/context";
import type { Feature } from "@/lib/server/feature";
import { logger } from "@/lib/server/log";
import { provide } from "@/lib/server/runtime";
import { DiskStorage } from "./disk-storage";
import { sendFile } from "./http/download";
import { parseMasterKey } from "./crypto/encryption";
import { doDeleteMessageFiles, sweepAbandonedFiles } from "./lifecycle";
import type { Files } from "./service";
import { filesSettings } from "./settings";
import { ThumbnailMaker } from "./thumbnails";
import { Transfers } from "./crypto/transfers";
import { type Authenticate, createUploadEndpoint } from "./http/upload-endpoint";
import { EncryptedUploadStore } from "./upload-store";

const log = logger("files");

/**
 * File sharing on the web node (docs/files.md): the tus upload endpoint as a plain-Node
 * route, the shared Files service for the download route handlers, the message-deleted
 * hook, and the periodic sweep of abandoned uploads.
 */
export async function createFilesFeature(ctx: NodeContext): Promise<Feature> {
  const settings = filesSettings(ctx.env);
  const files = await openFiles({
    db: ctx.database.db,
    root: path.join(ctx.dataDir, "files"),
    masterKeyHex: ctx.secrets.filesMasterKey,
    settings,
  });
  provide("files", files);
  const stopHook = onMessageDeleted(async ({ messageId }) => {
    await doDeleteMessageFiles(files, messageId);
  });
  return startFilesFeature(
    files,
    (cookie) => getSessionUserFromCookieHeader(cookie, files.db),
    stopHook,
  );
}

/** Builds the Files service over a data folder (also used by tests and the benchmark). */
export async function openFiles(options: {
  db: Files["db"];
  root: string;
  masterKeyHex: string;
  settings: Files["settings"];
}): Promise<Files> {
  const masterKey = parseMasterKey(options.masterKeyHex);
  const transfers = new Transfers();
  return {
    db: options.db,
    storage: await DiskStorage.create(path.join(options.root, "objects")),
    masterKey,
    settings: options.settings,
    uploads: await EncryptedUploadStore.create(
      path.join(options.root, "uploads"),
      masterKey,
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
 * GET/HEAD /api/files/<id>: files are served here rather than by a route handler (see
 * sendFile in ./download.ts); thumbnails, lists and DELETE stay with Next.
 */
function createDownloadEndpoint(files: Files, authenticate: Authenticate) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const match = /^\/api\/files\/([^/?]+)(?:\?|$)/.exec(req.url ?? "");
    if (!match || match[1] === "uploads") return false;
    void authenticate(req.headers.cookie).then(
      (user) => sendFile(files, user, match[1]!, req, res),
      (err: unknown) => {
        log.error("authenticating a download failed", { err: String(err) });
        res.writeHead(500).end();
      },
    );
    return true;
  };
}

/** The feature over a built Files service: upload endpoint, downloads and sweep timer. */
export function startFilesFeature(
  files: Files,
  authenticate: Authenticate,
  stopHook: () => void = () => {},
): Feature {
  const endpoint = createUploadEndpoint(files, authenticate);
  const downloads = createDownloadEndpoint(files, authenticate);
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
    handleRequest: (req, res) => endpoint.handleRequest(req, res) || downloads(req, res),
    ready: () => true,
    async close() {
      clearInterval(timer);
      clearTimeout(first);
      stopHook();
      await files.transfers.close();
    },
  };
}
