import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import { MemoryLocker, Server as TusServer, TUS_RESUMABLE } from "@tus/server";
import type { SessionUser } from "@/lib/auth/schemas";
import { unauthorized } from "@/lib/errors";
import { reserveUpload } from "../quota";
import { isAttachmentId } from "../schemas";
import type { Files } from "../service";
import { checkUploadStart, doFinishUpload, noSuchUpload, uploadMovedOn } from "../uploads";
import { errorJson, sendFilesError, toFilesHttpError, tusRefusal } from "./errors";

/** Where uploads go: POST to create, then HEAD/PATCH/DELETE on UPLOADS_PATH/<id>. */
export const UPLOADS_PATH = "/api/files/uploads";
const COMPLETE = new RegExp(`^${UPLOADS_PATH}/([^/]+)/complete$`);
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
 * the user who created it (anyone else gets the same 404 as for a missing one). Refusals
 * are FilesHttpError answers (./errors.ts), JSON `{ error: { code, message } }` bodies the
 * client shows as they are; tus's hooks throw AppError and onResponseError describes it.
 */
export function createUploadEndpoint(files: Files, authenticate: Authenticate) {
  const users = new WeakMap<object, SessionUser>();
  const signIn = () => unauthorized("Sign in to share files");
  const requireUser = async (req: HookRequest): Promise<SessionUser> => {
    const user = await authenticate(req.headers.get("cookie") ?? undefined);
    if (!user) throw signIn();
    users.set(req, user);
    return user;
  };
  /** The upload `id` if `user` made it; the same refusal whether it is missing or not theirs. */
  const requireOwnUpload = async (user: SessionUser, id: string) => {
    const staged = await files.uploads.staged(id);
    if (!staged || staged.uploaderId !== user.id) throw noSuchUpload();
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
      lastPath && isAttachmentId(lastPath) ? lastPath : undefined,
    async onIncomingRequest(req, uploadId) {
      const user = await requireUser(req);
      if (req.method !== "POST") await requireOwnUpload(user, uploadId);
    },
    async onUploadCreate(req, upload) {
      const user = users.get(req) ?? (await requireUser(req));
      const binding = await checkUploadStart(files, user, upload.size, upload.metadata);
      await reserveUpload(files, upload.id, upload.size ?? 0, binding);
      return { metadata: { ...binding } };
    },
    onUploadFinish: (_req, upload) => finishResponse(upload.id),
    // Whatever a hook threw, or tus's own refusals: the one description (./errors.ts).
    onResponseError(_req, err) {
      const error = toFilesHttpError(err, files.settings);
      return { status_code: error.status, body: errorJson(error) };
    },
  });

  /** POST UPLOADS_PATH/<id>/complete: finishes (again) an upload whose finishing response was lost. */
  const complete = async (req: IncomingMessage, res: ServerResponse, id: string) => {
    const user = await authenticate(req.headers.cookie);
    if (!user) throw signIn();
    if (!isAttachmentId(id)) throw noSuchUpload();
    await requireOwnUpload(user, id);
    const body = JSON.stringify({ attachment: await doFinishUpload(files, id) });
    reply(res, 200, { "Content-Type": "application/json", "Cache-Control": "no-store" }, body);
  };

  /**
   * PATCH UPLOADS_PATH/<id>, done here rather than by @tus/server: a copy of its
   * PatchHandler.send (2.4.5) that hands the request itself to the store, so the body goes
   * straight from the socket to the transfer worker. Through @tus/server it passed srvx's
   * web-stream adapter, which copies every piece, then Readable.fromWeb, a PassThrough and
   * a StreamLimiter: at a gigabyte that was a third of the upload's CPU. @tus/server offers
   * no way round that: its handler classes are not exported, and the step that would be
   * replaced (writeToStore) is protected and is given only the web stream.
   *
   * So this does what tus does, in its order and with its statuses: Tus-Resumable (412),
   * header syntax (400), the upload id (404), Upload-Offset and Content-Type present (403),
   * onIncomingRequest's checks (here: signed in, own upload), the lock (the same
   * MemoryLocker, so HEAD and DELETE still take turns with it, and a request that wants the
   * lock stops this one after LOCK_DRAIN_MS as tus's lockDrainTimeout does), expiry (410),
   * offset (409), length (413), the write, onUploadFinish's answer or 204 with
   * Upload-Expires. Left out, as unused here: Upload-Length on PATCH (the store offers no
   * creation-defer-length), tus's events, CORS. test/files/uploads.test.ts ("checks PATCH
   * requests as tus does") holds each answer; re-check this against PatchHandler when
   * @tus/server is upgraded.
   */
  const patch = async (req: IncomingMessage, res: ServerResponse, lastPath: string) => {
    const headers: Record<string, string> = { "Tus-Resumable": TUS_RESUMABLE };
    try {
      if (!req.headers["tus-resumable"]) throw tusRefusal.protocol(412, "Tus-Resumable Required");
      const offsetHeader = header(req, "upload-offset");
      const contentType = req.headers["content-type"];
      const invalid = [
        req.headers["tus-resumable"] !== TUS_RESUMABLE && "tus-resumable",
        offsetHeader !== undefined && !/^(0|[1-9][0-9]*)$/.test(offsetHeader) && "upload-offset",
        contentType !== undefined &&
          contentType !== "application/offset+octet-stream" &&
          "content-type",
      ].filter(Boolean);
      if (invalid.length) throw tusRefusal.protocol(400, `Invalid ${invalid.join(" ")}`);
      if (!isAttachmentId(lastPath)) throw noSuchUpload();
      const id = lastPath;
      if (offsetHeader === undefined)
        throw tusRefusal.protocol(403, "Upload-Offset header required");
      if (contentType === undefined) throw tusRefusal.protocol(403, "Content-Type header required");
      const offset = Number(offsetHeader);

      const user = await authenticate(req.headers.cookie);
      if (!user) throw signIn();
      await requireOwnUpload(user, id);

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
        if (Date.now() > created + files.uploads.getExpiration()) throw tusRefusal.expired();
        if (upload.offset !== offset) throw uploadMovedOn();
        const length = Number(req.headers["content-length"] ?? "0");
        if (offset + length > (upload.size ?? 0)) throw tusRefusal.tooLarge(files.settings);
        newOffset = await files.uploads.write(req, id, offset);
      } finally {
        clearTimeout(drain);
        await lock.unlock();
      }

      headers["Upload-Offset"] = String(newOffset);
      if (newOffset === upload.size) {
        const finished = await finishResponse(id);
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
      sendFilesError(res, toFilesHttpError(err, files.settings), headers);
    }
  };

  const fail = (res: ServerResponse) => (err: unknown) =>
    sendFilesError(res, toFilesHttpError(err, files.settings));

  return {
    /** Takes the request when it is for the upload endpoint. */
    handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
      const pathname = (req.url ?? "").split("?")[0] ?? "";
      if (pathname !== UPLOADS_PATH && !pathname.startsWith(`${UPLOADS_PATH}/`)) return false;
      const done = COMPLETE.exec(pathname);
      if (done && req.method === "POST") {
        complete(req, res, done[1]!).catch(fail(res));
        return true;
      }
      const one = UPLOAD.exec(pathname);
      if (one && req.method === "PATCH") {
        void patch(req, res, one[1]!);
        return true;
      }
      tus.handle(req, res).catch(fail(res));
      return true;
    },
  };
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
