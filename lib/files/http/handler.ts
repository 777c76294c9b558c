import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import { forbidden, notFound, unauthorized } from "@/lib/errors";
import { type AllowedOrigins, writeAllowed } from "@/lib/realtime/origin";
import { doRemoveUnsentFile } from "../lifecycle";
import { isAttachmentId } from "../schemas";
import type { Files } from "../service";
import { sendFile } from "./download";
import { FilesHttpError, sendFilesError, toFilesHttpError } from "./errors";
import { type Authenticate, createUploadEndpoint } from "./upload-endpoint";

/** /api/files/<id> and /api/files/<id>/thumbnail. */
const FILE = /^\/api\/files\/([^/]+)(\/thumbnail)?$/;

/**
 * The one dispatcher of the files HTTP surface on plain Node, ahead of Next (server.ts
 * offers it every request through the files feature, ../node.ts):
 *
 *   POST /api/files/uploads, HEAD/PATCH/DELETE …/uploads/<id>, POST …/<id>/complete
 *                                        the tus endpoint (./upload-endpoint.ts)
 *   GET/HEAD /api/files/<id>[/thumbnail]  a file or its preview (./download.ts)
 *   DELETE /api/files/<id>                the uploader takes back an unsent file
 *
 * Downloads are here rather than in route handlers because bytes written to the socket
 * straight from the transfer worker's ring are neither copied nor allocated on the main
 * thread, where a route handler's web-stream body copies every chunk (docs/files.md,
 * "Transfers off the main thread", measured there); DELETE on the same URL is here so that
 * one place answers each URL. Only the room's Files list (GET /api/files?room=, JSON)
 * stays a route handler, like every other JSON API.
 */
export function createFilesHandler(
  files: Files,
  options: { authenticate: Authenticate; allowedOrigins: AllowedOrigins },
) {
  const { authenticate, allowedOrigins } = options;
  const uploads = createUploadEndpoint(files, authenticate);

  /** Runs one request's work; whatever it throws becomes the error answer. */
  const answer = (res: ServerResponse, work: () => Promise<void>) => {
    work().catch((err: unknown) => sendFilesError(res, toFilesHttpError(err, files.settings)));
  };

  const removeUnsent = async (req: IncomingMessage, res: ServerResponse, id: string) => {
    // The check every route handler makes on a write (lib/server/route.ts).
    const sameSite = writeAllowed(
      {
        origin: req.headers.origin ?? null,
        secFetchSite: one(req.headers["sec-fetch-site"]),
        host: req.headers.host ?? null,
      },
      allowedOrigins,
    );
    if (!sameSite) throw forbidden("Requests from other sites are not accepted");
    const user = await authenticate(req.headers.cookie);
    if (!user) throw unauthorized();
    if (!isAttachmentId(id)) throw notFound("There is no such unsent file");
    await doRemoveUnsentFile(files, user, id);
    res.writeHead(204, { "Cache-Control": "no-store" }).end();
  };

  return {
    /** Takes the request when it is for one of the URLs above. */
    handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
      if (uploads.handleRequest(req, res)) return true;
      const match = FILE.exec((req.url ?? "").split("?")[0] ?? "");
      if (!match) return false;
      const id = match[1]!;
      const variant = match[2] ? "thumbnail" : "file";
      const method = req.method ?? "GET";
      if (method === "GET" || method === "HEAD") {
        answer(res, async () =>
          sendFile(files, await authenticate(req.headers.cookie), id, variant, req, res),
        );
      } else if (method === "DELETE" && variant === "file") {
        answer(res, () => removeUnsent(req, res, id));
      } else {
        const allow = variant === "file" ? "GET, HEAD, DELETE" : "GET, HEAD";
        sendFilesError(res, new FilesHttpError(405, "bad_request", `Use ${allow}`), {
          Allow: allow,
        });
      }
      return true;
    },
  };
}

/** A header that is one value (Node gives an array only for a few known ones). */
function one(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}
