/**
 * The part of a web node `npm run bench:backup` needs, as its own process: the database
 * (PGlite under DATA_DIR), Socket.IO with the chat, the files service and the admin
 * channel, wired as server.ts wires them, without Next (the chat clients speak Socket.IO
 * only). Prints `{"port":N}` once listening; stops on SIGTERM.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { startAdminChannel } from "@/lib/backup/admin";
import { openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { loadEnv } from "@/lib/env";
import { filesKeySource, openFiles } from "@/lib/files/node";
import { filesSettings } from "@/lib/files/settings";
import { createRealtime } from "@/lib/realtime/server";
import { setLogLevel } from "@/lib/server/log";
import { setRuntime } from "@/lib/server/runtime";
import { configuredSecrets, loadSecrets } from "@/lib/server/secrets";

const config = loadEnv();
setLogLevel(config.LOG_LEVEL);
const dataDir = path.resolve(config.DATA_DIR);
const secrets = loadSecrets(dataDir, configuredSecrets(config));
const database = await openDatabase({ kind: "pglite", dataDir: path.join(dataDir, "pglite") });
await migrateDatabase(database);
const httpServer = createServer((_req, res) => {
  res.statusCode = 404;
  res.end();
});
const realtime = await createRealtime({ httpServer, env: config, database });
setRuntime({
  config,
  secrets,
  database,
  io: realtime.io,
  readiness: new Map(),
  services: {},
});
const files = await openFiles({
  db: database.db,
  root: path.join(dataDir, "files"),
  masterKeyHex: secrets.filesMasterKey,
  settings: filesSettings(config),
});
const admin = await startAdminChannel({
  dataDir,
  database,
  files,
  secrets,
  keySource: filesKeySource(config),
});
await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
process.stdout.write(`${JSON.stringify({ port: (httpServer.address() as AddressInfo).port })}\n`);
process.on("SIGTERM", () => {
  void (async () => {
    await admin.close();
    await realtime.close();
    httpServer.closeAllConnections();
    httpServer.close();
    await files.transfers.close();
    await database.close();
    process.exit(0);
  })();
});
