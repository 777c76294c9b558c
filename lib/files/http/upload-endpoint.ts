import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERRORS, MemoryLocker, Server as TusServer, TUS_RESUMABLE } from "@tus/server";
import type { SessionUser } from "@/lib/auth/schemas";
import { AppError, notFound, toErrorBody, unauthorized } from "@/lib/errors";
import { logger } from "@/lib/server/log";
import { reserveUpload } from "../quota";
import { filesErrorSchema } from "../schemas";
import type { Files } from "../service";
import { checkUploadStart, doFinishUpload, formatLimit } from "../uploads";

const log = logger("files");

/** Where uploads go: POST to create, then HEAD/PATCH/DELETE on UPLOADS_PATH/<id>. */
export const UPLOADS_PATH = "/api/files/uploads";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMPLETE = new RegExp(`^${UPLOADS_PATH}/([0-9a-f-]{36})/complete$`);
const UPLOAD = new RegExp(`^${UPLOADS_PATH}/([^/]+)$`);
/** How long a PATCH that another request wants the lock from may go on (tus's default). */
const LOCK_DRAIN_MS = 3000;

export type Authenticate = (cookieHeader: string | undefined) => Promise<SessionUser | null>;

/** The Request objects tus hands its hooks; only what is used here. */
type HookRequest = { headers: Headers };

/**
 * The tus (resumable upload) endpoint, served as plain Node HTTP ahead of Next so request
 * bodies stream straight into the encrypting store instead of being buffered.
 *
 * Every request is authenticated from the session cookie; an upload is reachable only by
 * the user who created it (anyone else gets the same 404 as for a missing one). Errors are
 * JSON `{ code, message }` bodies the client shows as they are.
 */
export function createUploadEndpoint(files: Files, authenticate: Authenticate) {
  const users = new WeakMap<object, SessionUser>();
  const requireUser = async (req: HookRequest): Promise<SessionUser> => {
    const user = await authenticate(req.headers.get("cookie") ?? undefined);
    if (!user) throw tusError(unauthorized("Sign in to share files"));
    users.set(req, user);
    return user;
  };

  // Shared with our own PATCH handling below, so HEAD, PATCH and DELETE on an upload
  // take turns as tus means them to.
  const locker = new MemoryLocker();
  const finishResponse = async (id: string) => {
    const attachment = await doFinishUpload(files, id);
    return {
      status_code: 200,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ attachment }),
    };
  };

  const tus = new TusServer({
    path: UPLOADS_PATH,
    locker,
    datastore: files.uploads,
    maxSize: files.settings.maxBytes,
    relativeLocation: true,
    // Same origin only: no CORS headers for anyone.
    allowedOrigins: [],
    disableTerminationForFinishedUploads: true,
    // Ids are UUIDs: the finished upload's attachment keeps it, so a client knows its
    // attachment id as soon as the upload exists.
    namingFunction: () => crypto.randomUUID(),
    getFileIdFromRequest: (_req, lastPath) =>
      lastPath && UUID.test(lastPath) ? lastPath : undefined,
    async onIncomingRequest(req, uploadId) {
      const user = await requireUser(req);
      if (req.method === "POST") return;
      const staged = await files.uploads.staged(uploadId);
      if (!staged || staged.uploaderId !== user.id)
        throw tusError(notFound("There is no such upload"));
    },
    async onUploadCreate(req, upload) {
      const user = users.get(req) ?? (await requireUser(req));
      try {
        const binding = await checkUploadStart(files, user, upload.size, upload.metadata);
        await reserveUpload(files, upload.id, upload.size ?? 0, binding);
        return { metadata: { ...binding } };
      } catch (err) {
        throw tusError(err);
      }
    },
    async onUploadFinish(_req, upload) {
      try {
        return await finishResponse(upload.id);
      } catch (err) {
        throw tusError(err);
      }
    },
    onResponseError(_req, err) {
      return {
        status_code: statusOf(err),
        body: JSON.stringify({ error: explain(err, files.settings.maxBytes) }),
      };
    },
  });

  /** POST UPLOADS_PATH/<id>/complete: finishes (again) an upload whose finishing response was lost. */
  const complete = async (req: IncomingMessage, res: ServerResponse, id: string) => {
    try {
      const user = await authenticate(req.headers.cookie);
      if (!user) throw unauthorized("Sign in to share files");
      const staged = await files.uploads.staged(id);
      if (!staged || staged.uploaderId !== user.id) throw notFound("There is no such upload");
      sendJson(res, 200, { attachment: await doFinishUpload(files, id) });
    } catch (err) {
      if (!(err instanceof AppError)) log.error("finishing an upload failed", { err: String(err) });
      sendJson(res, err instanceof AppError ? err.status : 500, { error: toErrorBody(err) });
    }
  };

  /**
   * PATCH UPLOADS_PATH/<id>: tus's PatchHandler, done here so the request body goes
   * straight from the socket into the store. Through @tus/server it passed a web-stream
   * adapter that copies every piece, then four stream stages; at a gigabyte that was a
   * third of the upload's CPU. Checks, locking, status codes and headers are tus's.
   */
  const patch = async (req: IncomingMessage, res: ServerResponse, lastPath: string) => {
    const headers: Record<string, string> = { "Tus-Resumable": TUS_RESUMABLE };
    try {
      if (!req.headers["tus-resumable"]) {
        throw { status_code: 412, body: "Tus-Resumable Required\n" };
      }
      const offsetHeader = header(req, "upload-offset");
      const contentType = req.headers["content-type"];
      const invalid = [
        req.headers["tus-resumable"] !== TUS_RESUMABLE && "tus-resumable",
        offsetHeader !== undefined && !/^(0|[1-9][0-9]*)$/.test(offsetHeader) && "upload-offset",
        contentType !== undefined &&
          contentType !== "application/offset+octet-stream" &&
          "content-type",
      ].filter(Boolean);
      if (invalid.length) throw { status_code: 400, body: `Invalid ${invalid.join(" ")}\n` };
      if (!UUID.test(lastPath)) throw ERRORS.FILE_NOT_FOUND;
      const id = lastPath;
      if (offsetHeader === undefined) throw ERRORS.MISSING_OFFSET;
      if (contentType === undefined) throw ERRORS.INVALID_CONTENT_TYPE;
      const offset = Number(offsetHeader);

      const user = await authenticate(req.headers.cookie);
      if (!user) throw tusError(unauthorized("Sign in to share files"));
      const staged = await files.uploads.staged(id);
      if (!staged || staged.uploaderId !== user.id)
        throw tusError(notFound("There is no such upload"));

      // Another request for this upload (the client's HEAD after a reconnect) asks for the
      // lock: give this one a moment to end by itself, then stop reading it; what arrived
      // is kept.
      let drain: NodeJS.Timeout | undefined;
      const lock = locker.newLock(id);
      await lock.lock(new AbortController().signal, () => {
        drain ??= setTimeout(() => req.destroy(), LOCK_DRAIN_MS);
      });
      let upload;
      let newOffset: number;
      try {
        upload = await files.uploads.getUpload(id);
        const created = upload.creation_date ? Date.parse(upload.creation_date) : Date.now();
        if (Date.now() > created + files.uploads.getExpiration())
          throw ERRORS.FILE_NO_LONGER_EXISTS;
        if (upload.offset !== offset) throw ERRORS.INVALID_OFFSET;
        const length = Number(req.headers["content-length"] ?? "0");
        if (offset + length > (upload.size ?? 0)) throw ERRORS.ERR_SIZE_EXCEEDED;
        newOffset = await files.uploads.write(req, id, offset);
      } finally {
        clearTimeout(drain);
        await lock.unlock();
      }

      headers["Upload-Offset"] = String(newOffset);
      if (newOffset === upload.size) {
        let finished;
        try {
          finished = await finishResponse(id);
        } catch (err) {
          throw tusError(err);
        }
        reply(res, finished.status_code, { ...headers, ...finished.headers }, finished.body);
        return;
      }
      if (upload.creation_date) {
        headers["Upload-Expires"] = new Date(
          Date.parse(upload.creation_date) + files.uploads.getExpiration(),
        ).toUTCString();
      }
      reply(res, 204, headers, "");
    } catch (err) {
      // The client went away (or another request took the upload over): what arrived is
      // stored, and there is nobody to answer.
      if (req.destroyed && !req.complete) return;
      const body = JSON.stringify({ error: explain(err, files.settings.maxBytes) });
      reply(res, statusOf(err), { ...headers, "Content-Type": "application/json" }, body);
    }
  };

  return {
    /** Takes the request when it is for the upload endpoint. */
    handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
      const pathname = (req.url ?? "").split("?")[0] ?? "";
      if (pathname !== UPLOADS_PATH && !pathname.startsWith(`${UPLOADS_PATH}/`)) return false;
      const done = COMPLETE.exec(pathname);
      if (done && req.method === "POST") {
        void complete(req, res, done[1]!);
        return true;
      }
      const one = UPLOAD.exec(pathname);
      if (one && req.method === "PATCH") {
        void patch(req, res, one[1]!);
        return true;
      }
      tus.handle(req, res).catch((err: unknown) => {
        log.error("upload request failed", { err: String(err) });
        if (!res.headersSent) sendJson(res, 500, { error: toErrorBody(err) });
        else res.destroy();
      });
      return true;
    },
    /** Removes uploads older than the expiry. */
    cleanUpExpired: () => tus.cleanUpExpiredUploads(),
  };
}

/** tus's hooks refuse a request by throwing `{ status_code, body }`. */
function tusError(err: unknown): { status_code: number; body: string } {
  if (err instanceof AppError) {
    return { status_code: err.status, body: JSON.stringify({ error: toErrorBody(err) }) };
  }
  log.error("upload hook failed", {
    err: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  return { status_code: 500, body: JSON.stringify({ error: toErrorBody(err) }) };
}

function statusOf(err: unknown): number {
  const status = (err as { status_code?: unknown }).status_code;
  return typeof status === "number" ? status : 500;
}

/** tus's own errors are plain text; clients get the same JSON shape as from the hooks. */
function explain(err: unknown, maxBytes: number): { code: string; message: string } {
  const body = (err as { body?: unknown }).body;
  if (typeof body === "string") {
    try {
      const parsed = filesErrorSchema.safeParse(JSON.parse(body));
      if (parsed.success) return parsed.data.error;
    } catch {
      // Not one of ours: described below.
    }
  }
  switch (statusOf(err)) {
    case 404:
      return { code: "not_found", message: "There is no such upload" };
    case 409:
      return {
        code: "conflict",
        message: "The upload moved on elsewhere; resume from the server's offset",
      };
    case 410:
      return { code: "not_found", message: "This upload expired; start it again" };
    case 413:
      return { code: "too_large", message: `Files can be at most ${formatLimit(maxBytes)}` };
    case 500:
      log.error("upload failed", {
        err: err instanceof Error ? (err.stack ?? err.message) : String(body),
      });
      return { code: "internal", message: "Something went wrong on our side" };
    default:
      return {
        code: "bad_request",
        message: typeof body === "string" ? body.trim() : "Bad upload request",
      };
  }
}

/** Answers a request whose body may not have been read: then the connection is not reused. */
function reply(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  if (res.headersSent || res.destroyed) return;
  if (!res.req.complete) res.shouldKeepAlive = false;
  res.writeHead(status, { ...headers, "Content-Length": String(Buffer.byteLength(body)) });
  res.end(body);
}

/** A request header that may only come once (Node joins unknown repeated ones with ", "). */
function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}
