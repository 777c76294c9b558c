import "server-only";
import path from "node:path";
import { Readable } from "node:stream";
import { service, runtime } from "@/lib/server/runtime";
import type { ExportDeps } from "./archive";
import { tar, type TarEntry } from "./tar";

/** The running node's export dependencies: its database, file storage and key, DATA_DIR/tmp. */
export function exportDeps(): ExportDeps {
  const files = service("files");
  return {
    db: files.db,
    storage: files.storage,
    keys: files.keys,
    tmpDir: path.join(runtime().config.DATA_DIR, "tmp"),
  };
}

/**
 * A streamed tar download: nothing is generated ahead of what the client reads (the
 * response's backpressure pulls the next bytes), and a client that goes away stops it.
 * `X-Export-Files-Bytes` tells the page how large the files alone are, so it can show
 * progress against it.
 */
export function tarResponse(
  entries: AsyncGenerator<TarEntry>,
  filename: string,
  filesBytes: number,
): Response {
  const body = Readable.toWeb(Readable.from(tar(entries))) as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: {
      "content-type": "application/x-tar",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
      "x-export-files-bytes": String(filesBytes),
    },
  });
}
