/**
 * A request whose path does not decode (a stray `%`, `%E0%A4%A`) made Next answer its own
 * plain-text 500 on every dynamic route. server.ts answers it first: 400, in the JSON error
 * shape every route uses.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Answers a request whose path has malformed percent-encoding; true when it did. */
export function refuseMalformedPath(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? "/").split("?")[0]!;
  try {
    decodeURIComponent(path);
    return false;
  } catch {
    res.writeHead(400, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(
      JSON.stringify({
        error: { code: "bad_request", message: "The address is malformed (bad percent-encoding)" },
      }),
    );
    return true;
  }
}
