import "server-only";
import { X509Certificate } from "node:crypto";
import { unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import path from "node:path";
import { TLSSocket } from "node:tls";
import { logger } from "../log";
import { AcmeManager } from "./acme";
import { parseClientHello, recordLength } from "./client-hello";
import type { TlsPlan } from "./config";
import { machineNames, selfSigned } from "./self-signed";
import { type CertInfo, type CertPair, checkPair } from "./store";

/**
 * The web node's listeners for each TLS mode (lib/server/tls/config.ts):
 *
 * - `off` and `proxy`: one plain HTTP server on PORT.
 * - `acme`, `files`, `self-signed`: HTTPS on HTTPS_PORT, and on HTTP_PORT a plain server
 *   that answers ACME HTTP-01 challenges, hands out the local CA (self-signed) and
 *   redirects everything else to HTTPS. A new certificate replaces the old one with
 *   `setSecureContext`: connections already open (a chat socket) keep theirs, new ones get
 *   the new one, nothing restarts.
 *
 * The HTTPS port is a plain TCP listener that hands each connection to the HTTPS server;
 * only while a TLS-ALPN-01 validation may be under way does it first read the ClientHello,
 * to give `acme-tls/1` connections the challenge certificate instead.
 */

const log = logger("tls");

/** Where a device on the LAN downloads the local CA to trust it (self-signed mode). */
export const CA_PATH = "/parley-ca.crt";

export interface TlsStatus {
  mode: TlsPlan["mode"];
  certificate: {
    names: string[];
    issuer: string;
    notBefore: string;
    notAfter: string;
    serialNumber: string;
    /** When the next renewal is due (ACME). */
    renewsAt?: string;
  } | null;
  /** The last renewal or reload failure, until one succeeds. */
  error: string | null;
  nextAttemptAt?: string;
}

export interface Web {
  /** The server requests and upgrades arrive on (HTTPS when TLS is on). */
  server: HttpServer;
  listen(host: string): Promise<void>;
  /** Where people reach it, for the start-up log line. */
  urls(): string[];
  /** The ports listened on (0 in a setting means the system chose). */
  ports(): { main: number; redirect: number | null };
  /** False while HTTPS has no certificate yet (ACME's first issuance). */
  ready(): boolean;
  status(): TlsStatus;
  close(): Promise<void>;
}

export async function createWeb(
  plan: TlsPlan,
  options: { dataDir: string; handler: RequestListener },
): Promise<Web> {
  if (plan.mode === "off" || plan.mode === "proxy") return plainWeb(plan.port, options.handler);

  let info: CertInfo | null = null;
  let error: string | null = null;
  let acmeManager: AcmeManager | null = null;
  let caCert: string | null = null;
  const cleanups: (() => void)[] = [];
  const tlsDir = path.join(options.dataDir, "tls");

  const hsts = plan.hstsMaxAgeS > 0 ? `max-age=${plan.hstsMaxAgeS}` : null;
  const https: HttpsServer = createHttpsServer({}, (req, res) => {
    if (hsts) res.setHeader("Strict-Transport-Security", hsts);
    options.handler(req, res);
  });
  const install = (pair: CertPair, next: CertInfo) => {
    https.setSecureContext({ cert: pair.cert, key: pair.key });
    info = next;
  };

  if (plan.mode === "files") {
    const load = async () => {
      const pair = {
        cert: await readFile(plan.certFile, "utf8"),
        key: await readFile(plan.keyFile, "utf8"),
      };
      return { pair, info: checkPair(pair) };
    };
    const first = await load().catch((err: Error) => {
      throw new Error(`TLS_CERT_FILE/TLS_KEY_FILE: ${err.message}`);
    });
    install(first.pair, first.info);
    // Polled, not fs.watch: renewals usually replace the files (or a symlink's target).
    const reload = () => {
      load().then(
        (next) => {
          if (next.info.fingerprint256 === info?.fingerprint256) return;
          install(next.pair, next.info);
          error = null;
          log.info("reloaded TLS_CERT_FILE", {
            names: next.info.names,
            notAfter: next.info.notAfter.toISOString(),
          });
        },
        (err: Error) => {
          // Often the moment between writing the certificate and its key: the next change
          // brings the pair together again.
          error = `TLS_CERT_FILE/TLS_KEY_FILE: ${err.message}`;
          log.warn("not reloading TLS_CERT_FILE/TLS_KEY_FILE yet", { reason: err.message });
        },
      );
    };
    for (const file of [plan.certFile, plan.keyFile]) {
      watchFile(file, { interval: 1000 }, reload);
      cleanups.push(() => unwatchFile(file, reload));
    }
  } else if (plan.mode === "self-signed") {
    const extra = plan.publicOrigin
      ? [new URL(plan.publicOrigin).hostname, ...plan.extraNames]
      : plan.extraNames;
    const made = await selfSigned(tlsDir, machineNames(extra));
    caCert = made.caCert;
    install(made.pair, made.info);
    // What a person compares with what their device shows before trusting the download.
    log.info("devices trust the local CA from http://<this machine>" + CA_PATH, {
      sha256: new X509Certificate(made.caCert).fingerprint256,
    });
    // Once a day: a new address (DHCP) or the certificate's last month gets a new one.
    const recheck = setInterval(() => {
      selfSigned(tlsDir, machineNames(extra)).then(
        (next) => {
          if (next.info.fingerprint256 === info?.fingerprint256) return;
          caCert = next.caCert;
          install(next.pair, next.info);
          error = null;
          log.info("serving a new self-signed certificate", { names: next.info.names });
        },
        (err: Error) => {
          error = `self-signed certificate: ${err.message}`;
          log.error(`!!! could not renew the self-signed certificate: ${err.message}`);
        },
      );
    }, 86_400_000);
    recheck.unref();
    cleanups.push(() => clearInterval(recheck));
  } else {
    const manager = new AcmeManager({
      names: plan.names,
      directoryUrl: plan.directoryUrl,
      email: plan.email,
      challenges: plan.challenges.filter((c) => c !== "http-01" || plan.httpPort !== null),
      renewBeforeS: plan.renewBeforeS,
      tlsDir,
      install,
    });
    acmeManager = manager;
    cleanups.push(() => manager.stop());
  }

  const front: NetServer = createNetServer((socket) => {
    if (acmeManager?.alpnPending()) void route(socket, acmeManager, https);
    else https.emit("connection", socket);
  });

  const redirect: HttpServer | null =
    plan.httpPort === null
      ? null
      : createHttpServer((req, res) => {
          plainRequest(req, res, {
            acme: acmeManager,
            caCert,
            publicOrigin: plan.publicOrigin,
            httpsPort: (front.address() as { port: number } | null)?.port ?? plan.httpsPort,
          });
        });

  return {
    server: https,
    async listen(host) {
      await listen(front, plan.httpsPort, host, "HTTPS_PORT");
      if (redirect) await listen(redirect, plan.httpPort!, host, "HTTP_PORT");
      // Listening first: both challenge types need the listeners up.
      await acmeManager?.start();
    },
    urls() {
      const port = (front.address() as { port: number } | null)?.port ?? plan.httpsPort;
      if (plan.publicOrigin) return [plan.publicOrigin];
      return [`https://localhost${port === 443 ? "" : `:${port}`}`];
    },
    ports: () => ({
      main: (front.address() as { port: number } | null)?.port ?? plan.httpsPort,
      redirect: redirect ? ((redirect.address() as { port: number } | null)?.port ?? null) : null,
    }),
    ready: () => info !== null,
    status() {
      const acmeStatus = acmeManager?.status();
      return {
        mode: plan.mode,
        certificate: info && {
          names: info.names,
          issuer: info.issuer,
          notBefore: info.notBefore.toISOString(),
          notAfter: info.notAfter.toISOString(),
          serialNumber: info.serialNumber,
          renewsAt: acmeStatus?.renewsAt?.toISOString(),
        },
        error: acmeStatus ? acmeStatus.error : error,
        nextAttemptAt: acmeStatus?.nextAttemptAt?.toISOString(),
      };
    },
    async close() {
      for (const cleanup of cleanups) cleanup();
      https.closeAllConnections();
      const servers: NetServer[] = redirect ? [front, redirect] : [front];
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
      redirect?.closeAllConnections();
    },
  };
}

function plainWeb(port: number, handler: RequestListener): Web {
  const server = createHttpServer(handler);
  return {
    server,
    listen: (host) => listen(server, port, host, "PORT"),
    urls() {
      const actual = (server.address() as { port: number } | null)?.port ?? port;
      return [`http://localhost:${actual}`];
    },
    ports: () => ({
      main: (server.address() as { port: number } | null)?.port ?? port,
      redirect: null,
    }),
    ready: () => true,
    status: () => ({ mode: "off", certificate: null, error: null }),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function listen(server: NetServer, port: number, host: string, setting: string) {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EACCES")
        reject(
          new Error(
            `${setting}: no permission to listen on port ${port}. Ports below 1024 need ` +
              `CAP_NET_BIND_SERVICE or net.ipv4.ip_unprivileged_port_start (README.md "HTTPS"), ` +
              `or set ${setting} to a higher port.`,
          ),
        );
      else if (err.code === "EADDRINUSE")
        reject(
          new Error(
            `${setting}: port ${port} is in use. If a reverse proxy serves HTTPS in front of ` +
              `Parley, set TRUSTED_PROXIES to its address (or TLS_MODE=off) so that Parley ` +
              `serves plain HTTP on PORT; otherwise stop what holds the port or set ${setting}.`,
          ),
        );
      else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
}

/**
 * Reads the ClientHello, then hands the connection on: `acme-tls/1` for a name under
 * validation gets the challenge certificate (and nothing else), everything else the
 * HTTPS server with the bytes read put back.
 */
async function route(socket: Socket, manager: AcmeManager, https: HttpsServer): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  const first = await new Promise<Buffer | null>((resolve) => {
    const timer = setTimeout(() => done(null), 10_000);
    const done = (value: Buffer | null) => {
      clearTimeout(timer);
      socket.off("data", onData).off("error", onEnd).off("end", onEnd);
      socket.pause();
      resolve(value);
    };
    const onEnd = () => done(null);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const buf = Buffer.concat(chunks, size);
      const total = recordLength(buf);
      if ((total !== null && size >= total) || size > 16_389) done(buf);
    };
    socket.on("data", onData).on("error", onEnd).on("end", onEnd);
  });
  if (!first) {
    socket.destroy();
    return;
  }
  const hello = parseClientHello(first);
  const context =
    hello?.alpn.includes("acme-tls/1") && hello.servername
      ? manager.alpnContext(hello.servername)
      : undefined;
  socket.unshift(first);
  // The TLS layer takes the socket's handle and the bytes put back (Node's TLSSocket
  // replays what a socket has buffered).
  if (!context) {
    https.emit("connection", socket);
    return;
  }
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ["acme-tls/1"],
  });
  tls.on("secure", () => tls.end());
  tls.on("error", () => tls.destroy());
}

function plainRequest(
  req: IncomingMessage,
  res: ServerResponse,
  o: {
    acme: AcmeManager | null;
    caCert: string | null;
    publicOrigin: string | null;
    httpsPort: number;
  },
): void {
  const url = req.url ?? "/";
  const challenge = /^\/\.well-known\/acme-challenge\/([\w-]+)$/.exec(url);
  if (challenge && o.acme) {
    const answer = o.acme.httpChallenge(challenge[1]!);
    res.writeHead(answer ? 200 : 404, { "Content-Type": "text/plain" });
    res.end(answer ?? "no such challenge");
    return;
  }
  if (url === CA_PATH && o.caCert) {
    res.writeHead(200, {
      "Content-Type": "application/x-x509-ca-cert",
      "Content-Disposition": 'attachment; filename="parley-ca.crt"',
    });
    res.end(o.caCert);
    return;
  }
  let origin = o.publicOrigin;
  if (!origin) {
    let hostname: string;
    try {
      hostname = new URL(`http://${req.headers.host ?? ""}`).hostname;
    } catch {
      hostname = "";
    }
    if (!hostname) {
      res.writeHead(400, { "Content-Type": "text/plain" }).end("Host header required");
      return;
    }
    origin = `https://${hostname}${o.httpsPort === 443 ? "" : `:${o.httpsPort}`}`;
  }
  const method = req.method ?? "GET";
  res.writeHead(method === "GET" || method === "HEAD" ? 301 : 308, {
    Location: origin + (url.startsWith("/") ? url : "/"),
  });
  res.end();
}
