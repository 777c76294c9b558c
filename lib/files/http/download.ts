import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { SessionUser } from "@/lib/auth/schemas";
import { type ErrorBody, statusOf, toErrorBody } from "@/lib/errors";
import { logger } from "@/lib/server/log";
import { accessAttachmentById, type AttachmentRow } from "../access";
import { attachmentKind, isInlineSafe } from "../media-types";
import { contentDisposition } from "../names";
import { type EncryptedObject, openObject } from "../objects";
import { parseRange } from "./range";
import { type Files, isErrorNamed } from "../service";

const log = logger("files");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type Variant = "file" | "thumbnail";

export interface DownloadRequest {
  method: string;
  headers: Headers;
  /** ?download=1: always as an attachment, even for a type that could show inline. */
  forceDownload: boolean;
}

/** What a download answers: a complete response, or a head and the bytes to stream after it. */
type Prepared =
  | { response: Response }
  | {
      status: number;
      headers: Headers;
      object: EncryptedObject;
      start: number;
      end: number;
      response?: undefined;
    };

/**
 * GET/HEAD /api/files/<id>[/thumbnail]: a file, decrypted as it streams, for members of
 * its room only, with single-range support (video seeking, resumed downloads). Files are
 * served by sendFile() on plain Node (server.ts's files feature), thumbnails by the route
 * handler through serveFile(); both answer alike.
 *
 * Safety headers on every answer: nosniff, a CSP that sandboxes whatever the browser
 * opens, and Content-Disposition attachment for everything except raster images, audio,
 * video and PDF. SVG and HTML are therefore always downloads, never documents of this
 * origin.
 */
export async function serveFile(
  files: Files,
  user: SessionUser | null,
  id: string,
  variant: Variant,
  request: DownloadRequest,
): Promise<Response> {
  const prepared = await prepareFile(files, user, id, variant, request);
  if (prepared.response) return prepared.response;
  const { status, headers, object, start, end } = prepared;
  return new Response(webStream(object.read({ start, end })), { status, headers });
}

/**
 * GET/HEAD /api/files/<id> on plain Node, ahead of Next: the bytes go from the transfer
 * worker's ring to the socket without being copied or allocated on this thread (a
 * route handler's body passes web streams that copy every chunk; ./transfers.ts says why
 * allocation matters here).
 */
export async function sendFile(
  files: Files,
  user: SessionUser | null,
  id: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const prepared = await prepareFile(files, user, id, "file", {
      method: req.method ?? "GET",
      headers,
      forceDownload: url.searchParams.get("download") === "1",
    });
    if (prepared.response) {
      await writeResponse(res, prepared.response);
      return;
    }
    const { status, object, start, end } = prepared;
    res.writeHead(status, Object.fromEntries(prepared.headers));
    await object.send(res, { start, end }, files.transfers);
  } catch (err) {
    if (res.headersSent) res.destroy();
    else await writeResponse(res, failureResponse(err));
  }
}

async function prepareFile(
  files: Files,
  user: SessionUser | null,
  id: string,
  variant: Variant,
  request: DownloadRequest,
): Promise<Prepared> {
  const answer = (response: Response) => ({ response });
  if (!user)
    return answer(
      errorResponse(401, { code: "unauthorized", message: "Sign in to download files" }),
    );
  const row = UUID.test(id) ? await accessAttachmentById(files.db, id, user.id) : null;
  const key = variant === "thumbnail" ? row?.thumbnailKey : row?.storageKey;
  if (!row || !key)
    return answer(errorResponse(404, { code: "not_found", message: "There is no such file" }));

  let object: EncryptedObject;
  try {
    object = await openObject(files.storage, files.masterKey, key);
  } catch (err) {
    if (isErrorNamed(err, "ObjectNotFoundError")) {
      log.error("an attachment's stored object is missing", { id, variant });
      return answer(errorResponse(404, { code: "not_found", message: "There is no such file" }));
    }
    if (isErrorNamed(err, "TamperedError")) {
      log.error("a stored object failed its integrity check", {
        id,
        variant,
        err: (err as Error).message,
      });
      return answer(
        errorResponse(500, { code: "internal", message: "This file is damaged on the server" }),
      );
    }
    throw err;
  }

  const etag = `"${row.id}${variant === "thumbnail" ? "-t" : ""}"`;
  const headers = new Headers({
    ...describe(row, variant, request.forceDownload),
    ETag: etag,
    "Accept-Ranges": "bytes",
    // What next.config.ts adds to Next's answers; files are served ahead of Next. A file
    // opened as a document needs no framing, camera or microphone.
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), display-capture=()",
    // Revalidate every time, so access is re-checked and a deleted file stops being served;
    // the ETag keeps that cheap.
    "Cache-Control": "private, no-cache",
  });
  if (matches(request.headers.get("if-none-match"), etag))
    return answer(new Response(null, { status: 304, headers }));

  const ifRange = request.headers.get("if-range");
  const range =
    ifRange && ifRange !== etag
      ? { kind: "whole" as const }
      : parseRange(request.headers.get("range"), object.size);
  if (range.kind === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${object.size}`);
    return answer(new Response(null, { status: 416, headers }));
  }
  const start = range.kind === "part" ? range.start : 0;
  const end = range.kind === "part" ? range.end : object.size - 1;
  headers.set("Content-Length", String(end - start + 1));
  if (range.kind === "part") headers.set("Content-Range", `bytes ${start}-${end}/${object.size}`);
  const status = range.kind === "part" ? 206 : 200;
  if (request.method === "HEAD") return answer(new Response(null, { status, headers }));
  return { status, headers, object, start, end };
}

/**
 * A web stream over a Node one, handing on its buffers as they are: Readable.toWeb copies
 * each chunk into a new Uint8Array.
 */
function webStream(source: Readable): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Writes a small web Response (an error, 304, HEAD) to a Node response. */
async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(body);
}

/** Content type, disposition and CSP for a file or its thumbnail. */
function describe(
  row: AttachmentRow,
  variant: Variant,
  forceDownload: boolean,
): Record<string, string> {
  if (variant === "thumbnail") {
    return {
      "Content-Type": "image/webp",
      "Content-Disposition": contentDisposition("inline", `${row.name}.webp`),
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": SANDBOXED,
      "Cross-Origin-Resource-Policy": "same-origin",
    };
  }
  const inline = !forceDownload && isInlineSafe(row.mimeType, row.thumbnailKey !== null);
  return {
    "Content-Type": row.mimeType,
    "Content-Disposition": contentDisposition(inline ? "inline" : "attachment", row.name),
    "X-Content-Type-Options": "nosniff",
    // Chrome refuses to show a PDF in a sandboxed document; a PDF gets no script either way.
    "Content-Security-Policy": inline && attachmentKind(row.mimeType) === "pdf" ? PDF : SANDBOXED,
    "Cross-Origin-Resource-Policy": "same-origin",
  };
}

const SANDBOXED =
  "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'";
const PDF = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'";

function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(",")
    .some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === "*");
}

export function errorResponse(status: number, body: ErrorBody): Response {
  return Response.json(
    { error: body },
    {
      status,
      headers: { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" },
    },
  );
}

/** An unexpected failure, logged, as a JSON 500 (or 503 when the database is down). */
export function failureResponse(err: unknown): Response {
  const body = toErrorBody(err);
  if (body.code === "internal") {
    log.error("files request failed", {
      err: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
  return errorResponse(statusOf(body.code), body);
}
