import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { tlsPlan } from "@/lib/server/tls/config";
import {
  CLIENT_ADDRESS_HEADER,
  stampClientAddress,
  trustedProxyList,
} from "@/lib/server/client-address";
import { machineNames, selfSigned } from "@/lib/server/tls/self-signed";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Behind a reverse proxy that terminates TLS (README.md "HTTPS"): Parley serves plain HTTP
 * and believes Forwarded / X-Forwarded-* only from TRUSTED_PROXIES. Here a real HTTPS
 * proxy on this machine (as nginx or Caddy would, it appends X-Forwarded-For and sets
 * X-Forwarded-Proto) stands in front of server.ts's request stamping; the same headers sent
 * straight to Parley by a client are dropped.
 */

let app: Server;
let proxy: Server;
let appPort: number;
let proxyPort: number;
let ca: string;
const dir = mkdtempSync(path.join(tmpdir(), "parley-proxy-"));

beforeAll(async () => {
  const plan = tlsPlan(
    parseEnv({ PORT: "0", TRUSTED_PROXIES: "127.0.0.1", PUBLIC_URL: "https://localhost" }),
  );
  expect(plan.mode).toBe("proxy");
  const trusted = trustedProxyList(["127.0.0.1"]);
  app = createHttpServer((req, res) => {
    stampClientAddress(req, trusted);
    res.setHeader("Content-Type", "application/json");
    res.end(
      JSON.stringify({
        client: req.headers[CLIENT_ADDRESS_HEADER],
        proto: req.headers["x-forwarded-proto"] ?? null,
        host: req.headers["x-forwarded-host"] ?? null,
      }),
    );
  });
  await new Promise<void>((resolve) => app.listen(0, "::", resolve));
  appPort = (app.address() as AddressInfo).port;

  const made = await selfSigned(dir, machineNames());
  ca = made.caCert;
  proxy = createHttpsServer({ cert: made.pair.cert, key: made.pair.key }, (req, res) => {
    const upstream = httpRequest(
      {
        host: "127.0.0.1",
        port: appPort,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          "x-forwarded-for": [req.headers["x-forwarded-for"], req.socket.remoteAddress]
            .filter(Boolean)
            .join(", "),
          "x-forwarded-proto": "https",
          "x-forwarded-host": req.headers.host,
        },
      },
      (response) => {
        res.writeHead(response.statusCode!, response.headers);
        response.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "::1", resolve));
  proxyPort = (proxy.address() as AddressInfo).port;
});

afterAll(() => {
  app?.close();
  proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Seen = { client: string; proto: string | null; host: string | null };

function viaProxy(headers: Record<string, string> = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    httpsRequest(
      { host: "::1", port: proxyPort, servername: "localhost", ca, headers, path: "/" },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += String(c)));
        res.on("end", () => resolve(JSON.parse(body) as Seen));
      },
    )
      .on("error", reject)
      .end();
  });
}

function direct(headers: Record<string, string>): Promise<Seen> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "::1", port: appPort, headers, path: "/" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += String(c)));
      res.on("end", () => resolve(JSON.parse(body) as Seen));
    })
      .on("error", reject)
      .end();
  });
}

describe("behind a TLS-terminating reverse proxy", () => {
  it("takes the client and the scheme from the trusted proxy", async () => {
    expect(await viaProxy()).toEqual({
      client: "::1",
      proto: "https",
      host: `[::1]:${proxyPort}`,
    });
    // What the client claimed is kept as the proxy appended it; the proxy saw ::1.
    expect((await viaProxy({ "x-forwarded-for": "203.0.113.5" })).client).toBe("::1");
  });

  it("drops the same headers from anyone else", async () => {
    const forged = {
      "x-forwarded-for": "203.0.113.5",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example",
      forwarded: "for=203.0.113.6",
    };
    expect(await direct(forged)).toEqual({ client: "::1", proto: null, host: null });
  });
});
