import type { TLSSocket } from "node:tls";

/**
 * One HTTP/1.1 GET written by hand on an open TLS socket, which stays open: resolves with
 * the status line, headers and body once Content-Length bytes of body have arrived. For
 * tests that must prove a connection survives something (a certificate swapped under it).
 */
export function getOnSocket(socket: TLSSocket, url: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const onData = (chunk: Buffer) => {
      data += String(chunk);
      const head = data.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(data)?.[1];
      if (head >= 0 && length && data.length >= head + 4 + Number(length)) {
        socket.off("data", onData);
        resolve(data);
      }
    };
    socket.on("data", onData).once("error", reject);
    socket.write(`GET ${url} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}
