import "server-only";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

/**
 * Who a request comes from, for per-address rate limits. The socket's peer address is the
 * truth unless the peer is one of TRUSTED_PROXIES: only then does its X-Forwarded-For (or,
 * without one, its Forwarded) header name the client. Anyone can send those headers, so
 * believing them from anyone else would let a client pick a fresh address per request.
 *
 * server.ts resolves the address once per request and stamps it on the request as
 * CLIENT_ADDRESS_HEADER (replacing whatever the client sent under that name), because
 * Next's route handlers only see headers, never the socket.
 */
export const CLIENT_ADDRESS_HEADER = "x-parley-client-address";

export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** The client's address for a request that reached us from `peer`. */
export function resolveClientAddress(
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  trusted: BlockList,
): string {
  let current = normalize(peer ?? "");
  if (!current) return "unknown";
  // Hops as the proxies recorded them, client first; walk back from our peer while each
  // hop is a proxy we trust. The first untrusted hop is the client.
  const hops = forwardedHops(headers);
  while (isTrusted(current, trusted)) {
    const next = hops.pop();
    if (next === undefined) break;
    const address = normalize(next);
    // A trusted proxy that could not name the client ("unknown", garbage): that proxy
    // is the best we know.
    if (!address) break;
    current = address;
  }
  return current;
}

/** What a reverse proxy says about the original request; believed only from TRUSTED_PROXIES. */
const FORWARDED_HEADERS = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
] as const;

/**
 * Sets CLIENT_ADDRESS_HEADER on a request about to be handed to Next, and drops the
 * forwarding headers (Forwarded, X-Forwarded-*) unless the peer is a trusted proxy: what
 * reads them afterwards (NextAuth's URLs, the SFU proxy's X-Forwarded-For) then never
 * sees a client's own claims.
 */
export function stampClientAddress(req: IncomingMessage, trusted: BlockList): void {
  const peer = normalize(req.socket.remoteAddress ?? "");
  if (!peer || !isTrusted(peer, trusted)) {
    for (const name of FORWARDED_HEADERS) delete req.headers[name];
  }
  req.headers[CLIENT_ADDRESS_HEADER] = resolveClientAddress(
    req.socket.remoteAddress,
    req.headers,
    trusted,
  );
}

/**
 * The stamped client address of a route handler's request, as a rate-limit key: an IPv6
 * client usually holds a whole /64, so its addresses share one key.
 */
export function clientAddressKey(req: Request): string {
  const address = req.headers.get(CLIENT_ADDRESS_HEADER) ?? "unknown";
  return isIP(address) === 6 ? `${ipv6Prefix64(address)}::/64` : address;
}

function isTrusted(address: string, trusted: BlockList): boolean {
  return trusted.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

function forwardedHops(headers: IncomingHttpHeaders): string[] {
  const xff = headers["x-forwarded-for"];
  if (xff) return (Array.isArray(xff) ? xff.join(",") : xff).split(",").map((h) => h.trim());
  const forwarded = headers.forwarded;
  if (!forwarded) return [];
  const hops: string[] = [];
  for (const element of forwarded.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq >= 0 && pair.slice(0, eq).trim().toLowerCase() === "for") {
        hops.push(
          pair
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, ""),
        );
      }
    }
  }
  return hops;
}

/** A bare IP address from a hop (`1.2.3.4`, `1.2.3.4:567`, `[::1]:567`, `::ffff:1.2.3.4`), or "". */
function normalize(hop: string): string {
  let address = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.indexOf(":"));
  if (address.toLowerCase().startsWith("::ffff:") && isIP(address.slice(7)) === 4) {
    address = address.slice(7);
  }
  return isIP(address) ? address : "";
}

/** The first four groups of an IPv6 address, written out in full. */
function ipv6Prefix64(address: string): string {
  const [head = "", tail] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [
    ...left,
    ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"),
    ...right,
  ];
  return groups
    .slice(0, 4)
    .map((g) => g.padStart(4, "0"))
    .join(":");
}
