import "server-only";
import type { ServerResponse } from "node:http";
import { z } from "zod";
import { type ErrorBody, type ErrorCode, isAppError, statusOf, toErrorBody } from "@/lib/errors";
import { logger } from "@/lib/server/log";
import { fileTooLarge, noSuchUpload, uploadMovedOn } from "../uploads";

const log = logger("files");

/**
 * How a files endpoint on plain Node (downloads, DELETE, the tus upload endpoint; see
 * ./handler.ts) refuses a request: an HTTP status, a stable code and a message to show,
 * answered as the app's usual `{ "error": { code, message } }`.
 *
 * The code is the app's (lib/errors.ts) and usually decides the status; the tus protocol
 * has a few statuses of its own (412 without Tus-Resumable, 403 without Upload-Offset or
 * Content-Type, 410 for an expired upload), hence a status of its own here. Code below
 * this layer throws AppError (lib/errors.ts) as everywhere else; `toFilesHttpError` is the
 * one place anything thrown becomes an answer.
 */
export class FilesHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "FilesHttpError";
  }

  get body(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/**
 * @tus/server's own refusals (its ERRORS, thrown by its handlers for POST, HEAD and
 * DELETE) are plain `{ status_code, body }` objects with a text body; they reach us through
 * its onResponseError hook and are described here like ours.
 */
const tusErrorSchema = z.object({ status_code: z.number().int(), body: z.string() });

/** Anything thrown while serving a files request, as the answer to give; bugs are logged. */
export function toFilesHttpError(err: unknown, limits: { maxBytes: number }): FilesHttpError {
  if (err instanceof FilesHttpError) return err;
  if (isAppError(err)) return fromAppError(err);
  const tus = tusErrorSchema.safeParse(err);
  if (tus.success) return fromTus(tus.data.status_code, tus.data.body, limits.maxBytes);
  const body = toErrorBody(err);
  if (body.code === "internal") {
    log.error("files request failed", {
      err: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
  return new FilesHttpError(statusOf(body.code), body.code, body.message);
}

/**
 * Refusals of the tus protocol that have statuses of their own, said alike by our PATCH
 * (./upload-endpoint.ts) and for @tus/server's own (below).
 */
export const tusRefusal = {
  /** A malformed or incomplete tus request: 400, 403 or 412 with tus's words. */
  protocol: (status: number, text: string) => new FilesHttpError(status, "bad_request", text),
  expired: () => new FilesHttpError(410, "not_found", "This upload expired; start it again"),
  tooLarge: (limits: { maxBytes: number }) => fromAppError(fileTooLarge(limits.maxBytes)),
};

function fromAppError(err: { code: ErrorCode; message: string }): FilesHttpError {
  return new FilesHttpError(statusOf(err.code), err.code, err.message);
}

function fromTus(status: number, body: string, maxBytes: number): FilesHttpError {
  switch (status) {
    case 404:
      return fromAppError(noSuchUpload());
    case 409:
      return fromAppError(uploadMovedOn());
    case 410:
      return tusRefusal.expired();
    case 413:
      return tusRefusal.tooLarge({ maxBytes });
    case 500:
      log.error("upload failed", { err: body });
      return new FilesHttpError(500, "internal", "Something went wrong on our side");
    default:
      return tusRefusal.protocol(status, body.trim() || "Bad upload request");
  }
}

/** Headers every files error answer carries. */
const ERROR_HEADERS = {
  "Content-Type": "application/json",
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
};

/** The JSON text of an error answer. */
export function errorJson(error: FilesHttpError): string {
  return JSON.stringify({ error: error.body });
}

/**
 * Answers `res` with the error, plus `headers` (tus's); nothing if an answer has begun
 * (then the connection is cut). A request whose body was not read to the end does not
 * keep its connection, so the unread bytes are not taken for the next request.
 */
export function sendFilesError(
  res: ServerResponse,
  error: FilesHttpError,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const text = errorJson(error);
  if (!res.req.complete) res.shouldKeepAlive = false;
  res.writeHead(error.status, {
    ...headers,
    ...ERROR_HEADERS,
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}
