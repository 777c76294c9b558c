import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SessionUser } from "@/lib/auth/schemas";
import { logger } from "@/lib/server/log";
import { accessAttachmentById, type AttachmentRow } from "../access";
import { attachmentKind, isInlineSafe } from "../media-types";
import { contentDisposition } from "../names";
import { type EncryptedObject, openObject } from "../objects";
import { isAttachmentId } from "../schemas";
import { type Files, isErrorNamed } from "../service";
import { FilesHttpError } from "./errors";
import { parseRange } from "./range";

const log = logger("files");

export type Variant = "file" | "thumbnail";

/** What a download answers: a head, and the bytes start..end of `object` after it, if any. */
interface Prepared {
  status: number;
  headers: Headers;
  body: { object: EncryptedObject; start: number; end: number } | null;
}

/**
 * GET/HEAD /api/files/<id>[/thumbnail]: a file or its preview, decrypted as it streams,
 * for members of its room only, with single-range support (video seeking, resumed
 * downloads). On plain Node, ahead of Next (./handler.ts): the bytes go from the transfer
 * worker's ring to the socket without being copied or allocated on this thread (a route
 * handler's body passes web streams that copy every chunk; ../crypto/transfers.ts says why
 * allocation matters here). Refusals are thrown as FilesHttpError.
 *
 * Safety headers on every answer: nosniff, a CSP that sandboxes whatever the browser
 * opens, and Content-Disposition attachment for everything except raster images, audio,
 * video and PDF. SVG and HTML are therefore always downloads, never documents of this
 * origin.
 */
export async function sendFile(
  files: Files,
  user: SessionUser | null,
  id: string,
  variant: Variant,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const prepared = await prepareFile(files, user, id, variant, {
    method: req.method ?? "GET",
    header: (name) => {
      const value = req.headers[name];
      return typeof value === "string" ? value : null;
    },
    forceDownload: url.searchParams.get("download") === "1",
  });
  res.writeHead(prepared.status, Object.fromEntries(prepared.headers));
  if (!prepared.body) {
    res.end();
    return;
  }
  const { object, start, end } = prepared.body;
  await object.send(res, { start, end }, files.transfers);
}

interface DownloadRequest {
  method: string;
  header(name: "if-none-match" | "if-range" | "range"): string | null;
  /** ?download=1: always as an attachment, even for a type that could show inline. */
  forceDownload: boolean;
}

async function prepareFile(
  files: Files,
  user: SessionUser | null,
  id: string,
  variant: Variant,
  request: DownloadRequest,
): Promise<Prepared> {
  if (!user) throw new FilesHttpError(401, "unauthorized", "Sign in to download files");
  const noSuchFile = new FilesHttpError(404, "not_found", "There is no such file");
  const row = isAttachmentId(id) ? await accessAttachmentById(files.db, id, user.id) : null;
  const key = variant === "thumbnail" ? row?.thumbnailKey : row?.storageKey;
  if (!row || !key) throw noSuchFile;

  let object: EncryptedObject;
  try {
    object = await openObject(files.storage, files.keys, key);
  } catch (err) {
    if (isErrorNamed(err, "ObjectNotFoundError")) {
      log.error("an attachment's stored object is missing", { id, variant });
      throw noSuchFile;
    }
    if (isErrorNamed(err, "TamperedError")) {
      log.error("a stored object failed its integrity check", {
        id,
        variant,
        err: (err as Error).message,
      });
      throw new FilesHttpError(500, "internal", "This file is damaged on the server");
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
  if (matches(request.header("if-none-match"), etag)) return { status: 304, headers, body: null };

  const ifRange = request.header("if-range");
  const range =
    ifRange && ifRange !== etag
      ? { kind: "whole" as const }
      : parseRange(request.header("range"), object.size);
  if (range.kind === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${object.size}`);
    return { status: 416, headers, body: null };
  }
  const start = range.kind === "part" ? range.start : 0;
  const end = range.kind === "part" ? range.end : object.size - 1;
  headers.set("Content-Length", String(end - start + 1));
  if (range.kind === "part") headers.set("Content-Range", `bytes ${start}-${end}/${object.size}`);
  const status = range.kind === "part" ? 206 : 200;
  if (request.method === "HEAD") return { status, headers, body: null };
  return { status, headers, body: { object, start, end } };
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
