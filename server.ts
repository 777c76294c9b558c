/**
 * The web node: one HTTP server serving Next.js and Socket.IO (chat, presence, room
 * events), plus the features that need plain-Node handling (SFU signaling, uploads).
 * Architecture: docs/architecture.md.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import next from "next";
import { createAuthLimits } from "@/lib/auth/limits";
import { startAdminChannel } from "@/lib/backup/admin";
import { createCallsFeature } from "@/lib/call/node";
import { openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { loadEnv } from "@/lib/env";
import { createFilesFeature, filesKeySource } from "@/lib/files/node";
import { createNotifyFeature } from "@/lib/notify/node";
import { createRealtime } from "@/lib/realtime/server";
import { createSearchLimit } from "@/lib/search/limits";
import { stampClientAddress, trustedProxyList } from "@/lib/server/client-address";
import { refuseMalformedPath } from "@/lib/server/malformed-path";
import type { Feature } from "@/lib/server/feature";
import { securePrivateDir } from "@/lib/server/data-dir";
import { logger, setLogLevel } from "@/lib/server/log";
import { service, setRuntime } from "@/lib/server/runtime";
import { configuredSecrets, loadSecrets } from "@/lib/server/secrets";
import { tlsPlan } from "@/lib/server/tls/config";
import { createWeb } from "@/lib/server/tls/web";
import { startStallWatchdog } from "@/lib/stall-watchdog";

const log = logger("server");

// No network here and nothing to report: keep Next from trying.
process.env.NEXT_TELEMETRY_DISABLED ??= "1";

async function main() {
  const config = loadEnv();
  setLogLevel(config.LOG_LEVEL);
  const tls = tlsPlan(config);
  const dataDir = path.resolve(config.DATA_DIR);
  const secrets = loadSecrets(dataDir, configuredSecrets(config));
  // NextAuth v4 builds its URLs from NEXTAUTH_URL, or from the request's Host header when
  // it is told to trust it, and has no option for either: a library constraint, so these two
  // are the one place the parsed configuration is written back into process.env. Without a
  // configured public URL, the Host header is the truth (a laptop reached as localhost, a
  // LAN address or a tunnel). Its secret is passed as an option (lib/auth/options.ts).
  if (config.PUBLIC_URL) process.env.NEXTAUTH_URL = config.PUBLIC_URL;
  else process.env.AUTH_TRUST_HOST = "true";

  const database = await openDatabase(
    config.DATABASE_URL
      ? { kind: "postgres", url: config.DATABASE_URL }
      : { kind: "pglite", dataDir: path.join(dataDir, "pglite") },
  );
  await migrateDatabase(database);
  log.info("database ready", { kind: database.kind });
  // After the database, so that the files a fresh PGlite just wrote are covered too.
  const tightened = await securePrivateDir(dataDir);
  if (tightened > 0) log.info("restricted DATA_DIR to its owner", { entries: tightened });

  const dev = config.NODE_ENV === "development";
  const app = next({ dev, dir: process.cwd(), hostname: config.HOST, port: config.PORT });
  const handleNext = app.getRequestHandler();
  await app.prepare();
  const upgradeNext = app.getUpgradeHandler();

  let features: Feature[] = [];
  const trustedProxies = trustedProxyList(config.TRUSTED_PROXIES);
  // Plain HTTP, or HTTPS with its certificate and an HTTP redirect (lib/server/tls/).
  const web = await createWeb(tls, {
    dataDir,
    handler: (req: IncomingMessage, res: ServerResponse) => {
      stampClientAddress(req, trustedProxies);
      if (refuseMalformedPath(req, res)) return;
      for (const feature of features) {
        if (feature.handleRequest?.(req, res)) return;
      }
      void handleNext(req, res);
    },
  });
  const httpServer = web.server;

  const realtime = await createRealtime({ httpServer, env: config, database });
  const context = { env: config, secrets, dataDir, database, httpServer, io: realtime.io };
  const readiness = new Map<string, () => Promise<boolean> | boolean>();
  setRuntime({
    config,
    secrets,
    database,
    io: realtime.io,
    readiness,
    services: {
      authLimits: createAuthLimits(config, realtime.redis),
      searchLimit: createSearchLimit(config, realtime.redis),
      tls: web.status,
    },
  });
  readiness.set("tls", web.ready);
  features = [
    realtime,
    await createCallsFeature(context),
    await createFilesFeature(context),
    createNotifyFeature(context),
  ];
  for (const feature of features) {
    if (feature.ready) readiness.set(feature.name, feature.ready.bind(feature));
  }

  httpServer.on("upgrade", (req, socket, head) => {
    for (const feature of features) {
      if (feature.handleUpgrade?.(req, socket, head)) return;
    }
    // Socket.IO takes its own path through its own listener; what is left is Next's
    // (the dev server's hot reload).
    if (req.url?.startsWith("/_next/")) void upgradeNext(req, socket, head);
    else if (!req.url?.startsWith("/socket.io/")) socket.destroy();
  });

  // `npm run backup` and `npm run rotate-files-key` reach this node here (DATA_DIR/admin.sock).
  const admin = await startAdminChannel({
    dataDir,
    database,
    files: service("files"),
    secrets,
    keySource: filesKeySource(config),
  });

  await web.listen(config.HOST);
  // From here on nothing should hold the event loop long: log whatever does.
  const watchdogLog = logger("watchdog");
  startStallWatchdog({ log: (message, fields) => watchdogLog.warn(message, fields) });
  log.info(`Parley is listening on ${web.urls().join(", ")}`, { dev, dataDir, tls: tls.mode });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    for (const feature of [...features].reverse()) {
      await feature
        .close?.()
        .catch((err: unknown) => log.error(`closing ${feature.name}`, { err: String(err) }));
    }
    await admin.close().catch(() => {});
    await web.close();
    await app.close().catch(() => {});
    await database.close().catch(() => {});
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
