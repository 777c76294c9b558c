import "server-only";
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";

/**
 * A minimal reverse proxy for an SFU's Socket.IO signaling, so browsers reach it on the
 * app's own origin: long-polling requests are streamed through, WebSocket upgrades are
 * piped byte for byte after the rewritten request head. Media never passes here.
 *
 * The browser's credentials for this app (its session cookie, any Authorization) are not
 * the SFU's business — it authenticates with the call token — so they are never
 * forwarded. A node reached by an https:// URL is spoken to over TLS, its certificate
 * checked against the system's CAs (and NODE_EXTRA_CA_CERTS).
 */
export interface Upstream {
  host: string;
  port: number;
  /** Speak TLS to the node (its URL is https://). */
  tls?: boolean;
}

/** Hop-by-hop headers are the proxy's own business (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);
/** The browser's credentials for this app: kept from SFU nodes. */
const CREDENTIALS = new Set(["cookie", "authorization", "proxy-authorization"]);

function forwardedFor(req: IncomingMessage): string {
  const previous = req.headers["x-forwarded-for"];
  const remote = req.socket.remoteAddress ?? "";
  return previous ? `${String(previous)}, ${remote}` : remote;
}

export function proxyRequest(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  path: string,
): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !CREDENTIALS.has(name))
      headers[name] = value;
  }
  headers.host = `${upstream.host}:${upstream.port}`;
  headers["x-forwarded-for"] = forwardedFor(req);
  const outgoing = (upstream.tls ? httpsRequest : httpRequest)(
    { host: upstream.host, port: upstream.port, method: req.method, path, headers },
    (incoming) => {
      const responseHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) responseHeaders[name] = value;
      }
      res.writeHead(incoming.statusCode ?? 502, responseHeaders);
      incoming.pipe(res);
    },
  );
  outgoing.on("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end("SFU unavailable");
  });
  req.pipe(outgoing);
}

export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  upstream: Upstream,
  path: string,
): void {
  const onConnected = () => {
    const lines = [`${req.method ?? "GET"} ${path} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      const lower = name.toLowerCase();
      if (lower === "host" || lower === "x-forwarded-for" || CREDENTIALS.has(lower)) continue;
      lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
    }
    lines.push(`Host: ${upstream.host}:${upstream.port}`, `X-Forwarded-For: ${forwardedFor(req)}`);
    upstreamSocket.write(lines.join("\r\n") + "\r\n\r\n");
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  };
  const upstreamSocket = upstream.tls
    ? tlsConnect(
        // SNI carries names only; the certificate is checked against the host either way.
        {
          host: upstream.host,
          port: upstream.port,
          servername: isIP(upstream.host) ? undefined : upstream.host,
        },
        onConnected,
      )
    : connect(upstream.port, upstream.host, onConnected);
  const teardown = () => {
    upstreamSocket.destroy();
    socket.destroy();
  };
  upstreamSocket.on("error", teardown);
  socket.on("error", teardown);
  upstreamSocket.on("close", () => socket.destroy());
  socket.on("close", () => upstreamSocket.destroy());
}
