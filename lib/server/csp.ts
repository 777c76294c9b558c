/**
 * The Content-Security-Policy of every page (set per request by /proxy.ts).
 *
 * Scripts run only with this response's nonce: Next puts it on its own bootstrap and
 * bundles, `'strict-dynamic'` lets those load the chunks they need, and nothing injected
 * into a page (which would not know the nonce) can run. Connections go to this origin
 * only: HTTP, and the WebSockets of Socket.IO and the SFU's proxied signaling on the same
 * host (named explicitly because older browsers do not count ws: and wss: as 'self').
 * Media reaches the SFU over WebRTC, which connect-src does not govern. Styles keep
 * 'unsafe-inline': React writes style attributes, which nonces cannot cover, and styles
 * cannot run code.
 */
export function contentSecurityPolicy(options: {
  nonce: string;
  /** The host the page was served as (host[:port]); ignored unless it is a plain host. */
  host: string | null;
  dev: boolean;
}): string {
  const sockets =
    options.host && isPlainHost(options.host) ? ` ws://${options.host} wss://${options.host}` : "";
  return [
    "default-src 'self'",
    // The dev server's React evaluates code for its error overlay; production never does.
    `script-src 'self' 'nonce-${options.nonce}' 'strict-dynamic'${options.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    `connect-src 'self'${sockets}`,
    "font-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** host[:port] with a DNS name, IPv4 or bracketed IPv6 address: nothing that could add a directive. */
function isPlainHost(host: string): boolean {
  return /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i.test(host);
}

/** A fresh nonce per response: 128 bits from the CSPRNG, base64. */
export function newNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64");
}
