/**
 * Just enough of a TLS ClientHello (RFC 8446 §4.1.2) to tell an ACME TLS-ALPN-01
 * validation (RFC 8737: ALPN `acme-tls/1`) from a browser before the handshake starts:
 * the server name and the offered ALPN protocols. Read from the first TLS record only
 * (a ClientHello that spans records is no validation: validators send small ones).
 */

export interface ClientHello {
  servername: string | null;
  alpn: string[];
}

/** The first record's full length, once its header is in `buf`; null before that. */
export function recordLength(buf: Buffer): number | null {
  return buf.length >= 5 ? 5 + buf.readUInt16BE(3) : null;
}

/** Parses the ClientHello in the first record of `buf`, or null if it is not one. */
export function parseClientHello(buf: Buffer): ClientHello | null {
  const total = recordLength(buf);
  if (total === null || buf.length < total || buf[0] !== 0x16 || buf[5] !== 0x01) return null;
  const end = total;
  let pos = 9 + 2 + 32; // record header 5, handshake header 4; version, random
  const skip = (lengthBytes: 1 | 2) => {
    if (pos + lengthBytes > end) return false;
    const n = lengthBytes === 1 ? buf[pos]! : buf.readUInt16BE(pos);
    pos += lengthBytes + n;
    return pos <= end;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return null; // session id, cipher suites, compression
  const hello: ClientHello = { servername: null, alpn: [] };
  if (pos + 2 > end) return hello;
  const extensionsEnd = Math.min(end, pos + 2 + buf.readUInt16BE(pos));
  pos += 2;
  while (pos + 4 <= extensionsEnd) {
    const type = buf.readUInt16BE(pos);
    const length = buf.readUInt16BE(pos + 2);
    const body = pos + 4;
    pos = body + length;
    if (pos > extensionsEnd) return null;
    if (type === 0 && length >= 5 && buf[body + 2] === 0) {
      // server_name: list length, name type (0 = host_name), name length, name
      const n = buf.readUInt16BE(body + 3);
      if (body + 5 + n <= pos) hello.servername = buf.toString("ascii", body + 5, body + 5 + n);
    } else if (type === 16 && length >= 2) {
      // application_layer_protocol_negotiation: list length, then length-prefixed names
      let p = body + 2;
      while (p < pos) {
        const n = buf[p]!;
        if (p + 1 + n > pos) return null;
        hello.alpn.push(buf.toString("ascii", p + 1, p + 1 + n));
        p += 1 + n;
      }
    }
  }
  return hello;
}
