import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { getCACertificates, setDefaultCACertificates } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { proxyRequest, proxyUpgrade, type Upstream } from "./proxy";

/** A self-signed certificate for 127.0.0.1 (valid until 2126), standing in for a remote SFU's. */
const CERT = `-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUAf6/cvH2Rf1/Lhk7QIrXyA9sFCIwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTIwNDE3MDQxMFoYDzIxMjYxMTEw
MTcwNDEwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATapDfe9AdX3tuD8nWT7y7WpwEy6JbOUy+NxdlpJvWdVPjLJfpx4Ffd
HzmKC7CZla0A7C4z0wV0mbKgCTBJ9wHxo2QwYjAdBgNVHQ4EFgQUeTlQM7kKXajH
9tB9Cj7f/eQJmdswHwYDVR0jBBgwFoAUeTlQM7kKXajH9tB9Cj7f/eQJmdswDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQCdFXR1qpi1KRLivquwCx7tmZuBKWthxddk08tXTUaJvAIhAJcQssyoM8C2fIw+
bGkhGVbudShEaxMNXnwIy4zqzq4H
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOo56xpqtaw6VxbrS
Ht9GjmNy93sG5LGuAYROWtOlaJChRANCAATapDfe9AdX3tuD8nWT7y7WpwEy6JbO
Uy+NxdlpJvWdVPjLJfpx4FfdHzmKC7CZla0A7C4z0wV0mbKgCTBJ9wHx
-----END PRIVATE KEY-----
`;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** An SFU stand-in that records the headers of each request and WebSocket upgrade. */
async function startSfu(
  tls: boolean,
): Promise<{ upstream: Upstream; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = tls ? createHttpsServer({ cert: CERT, key: KEY }) : createServer();
  server.on("request", (req, res) => {
    seen.push(req.headers);
    res.end("sfu");
  });
  server.on("upgrade", (req, socket) => {
    seen.push(req.headers);
    socket.end(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
  });
  const port = await listen(server);
  return { upstream: { host: "127.0.0.1", port, tls }, seen };
}

/** The web node's side: every request and upgrade proxied to `upstream`. */
async function startProxy(upstream: Upstream): Promise<number> {
  const server = createServer((req, res) => proxyRequest(req, res, upstream, "/socket.io/"));
  server.on("upgrade", (req, socket, head) =>
    proxyUpgrade(req, socket, head, upstream, "/socket.io/"),
  );
  return listen(server);
}

const BROWSER_HEADERS = {
  cookie: "next-auth.session-token=secret-session",
  authorization: "Bearer secret",
  "x-parley-test": "kept",
};

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/sfu/local/socket.io/", headers: BROWSER_HEADERS },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function upgrade(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path: "/sfu/local/socket.io/?transport=websocket",
      headers: { ...BROWSER_HEADERS, connection: "Upgrade", upgrade: "websocket" },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => resolve(res.statusCode ?? 0));
    req.on("error", reject);
    req.end();
  });
}

function expectNoCredentials(headers: IncomingHttpHeaders | undefined) {
  expect(headers).toBeDefined();
  expect(headers!.cookie).toBeUndefined();
  expect(headers!.authorization).toBeUndefined();
  expect(headers!["x-parley-test"]).toBe("kept");
}

describe("the SFU signaling proxy", () => {
  it("keeps the browser's Cookie and Authorization from the SFU, in requests and upgrades", async () => {
    const sfu = await startSfu(false);
    const port = await startProxy(sfu.upstream);
    expect(await get(port)).toEqual({ status: 200, body: "sfu" });
    expectNoCredentials(sfu.seen[0]);
    expect(await upgrade(port)).toBe(101);
    expectNoCredentials(sfu.seen[1]);
  });

  it("speaks TLS to an https:// node and refuses one whose certificate it cannot verify", async () => {
    const sfu = await startSfu(true);
    const port = await startProxy(sfu.upstream);
    expect((await get(port)).status).toBe(502);
    expect(await upgrade(port).catch(() => "refused")).toBe("refused");
    expect(sfu.seen).toEqual([]);

    const defaults = getCACertificates("default");
    setDefaultCACertificates([...defaults, CERT]);
    try {
      expect(await get(port)).toEqual({ status: 200, body: "sfu" });
      expectNoCredentials(sfu.seen[0]);
      expect(await upgrade(port)).toBe(101);
      expectNoCredentials(sfu.seen[1]);
    } finally {
      setDefaultCACertificates(defaults);
    }
  });
});
