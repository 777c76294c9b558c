import "server-only";
import { chmod, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { connect } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import type { Database } from "@/lib/db/client";
import { tar, type TarEntry, untar } from "@/lib/export/tar";
import { parseMasterKey } from "@/lib/files/crypto/encryption";
import { type KeySource, rotateFilesKey } from "@/lib/files/rotation";
import type { Files } from "@/lib/files/service";
import { readCapped } from "@/lib/server/body";
import { logger } from "@/lib/server/log";
import type { Secrets } from "@/lib/server/secrets";
import {
  backupEntries,
  databaseSnapshot,
  type SnapshotHalf,
  type SnapshotPlan,
  snapshotPlanSchema,
} from "./archive";
import type { BackupSummary } from "./format";

const log = logger("admin");

/**
 * The web node's local admin channel (docs/architecture.md, "Backup and restore"): HTTP
 * over a unix socket, DATA_DIR/admin.sock, mode 0600 inside the 0700 DATA_DIR. What may
 * connect is decided by the file system: the account that owns DATA_DIR (and root). That
 * account can already read everything the channel hands out (the database files, the
 * secrets), so the channel grants nothing new; it is not on any network. It exists because
 * a second process cannot open the live PGlite directory: `npm run backup` asks the
 * running node for the database snapshot, which it streams at the pace the reader takes it
 * (the stored files the command reads from DATA_DIR itself: see "caller" below).
 *
 *   POST /backup            {"includeSecrets": bool, "objects"?: "inline" | "caller"}
 *                           "inline" (the default): the whole archive (tar); a summary trailer.
 *                           "caller", when the node's storage is on this machine's disk (it
 *                           says so in x-parley-backup-objects): only the database half
 *                           (format.json and the tables, as tar entries) and a last entry
 *                           with its plan (./archive.ts); the caller reads the objects the
 *                           plan names from DATA_DIR itself, and the node holds their
 *                           removals back until the caller hangs up.
 *   POST /rotate-files-key  {"newKey"?: hex}           → progress, then the report (JSON lines)
 */
export const ADMIN_SOCKET = "admin.sock";

export const adminSocketPath = (dataDir: string) => path.join(dataDir, ADMIN_SOCKET);

/** A unix socket's path fits in 108 bytes (sun_path) on Linux, 104 on macOS. */
const MAX_SOCKET_PATH = 103;

export const backupRequestSchema = z.object({
  includeSecrets: z.boolean(),
  objects: z.enum(["inline", "caller"]).default("inline"),
});

/** The header saying which way a backup's objects come: "inline" or "caller". */
export const OBJECTS_HEADER = "x-parley-backup-objects";

/** The last entry of a database half sent to a caller (not an entry of the archive). */
export const PLAN_ENTRY = "parley-backup-plan.json";
export const rotateRequestSchema = z.object({
  newKey: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, "The new key must be 64 hex characters")
    .optional(),
});

/** The trailer that carries a finished backup's summary. */
export const SUMMARY_TRAILER = "x-parley-backup-summary";

export interface AdminDeps {
  dataDir: string;
  database: Database;
  files: Files;
  secrets: Secrets;
  keySource: KeySource;
}

/**
 * Serves the channel. Not served (a warning, the node runs on) when the socket's path is too
 * long for a unix socket, or when another node sharing this DATA_DIR serves it already
 * (backups then go through that node).
 */
export async function startAdminChannel(deps: AdminDeps): Promise<{ close(): Promise<void> }> {
  const socketPath = adminSocketPath(deps.dataDir);
  const none = { close: async () => {} };
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    log.warn(
      "DATA_DIR's path is too long for the admin socket: npm run backup will not reach this node",
      { socketPath },
    );
    return none;
  }
  if (await answers(socketPath)) {
    log.warn("another node serves the admin socket of this DATA_DIR; backups go through it", {
      socketPath,
    });
    return none;
  }
  await rm(socketPath, { force: true }); // left by a node that stopped without closing it
  const server = createServer((req, res) => {
    void handle(deps, req, res).catch((err: unknown) => {
      log.error("admin request failed", { url: req.url, err: String(err) });
      if (!res.headersSent) reply(res, 500, { error: (err as Error).message });
      else res.destroy(err as Error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return {
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(socketPath, { force: true });
    },
  };
}

async function handle(deps: AdminDeps, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== "POST") return reply(res, 405, { error: "POST only" });
  if (req.url === "/backup") {
    const body = backupRequestSchema.safeParse(await jsonBody(req));
    if (!body.success) return reply(res, 400, { error: z.prettifyError(body.error) });
    const storage = deps.files.storage;
    const snapshotSource = {
      database: deps.database,
      keys: deps.files.keys,
      secrets: body.data.includeSecrets ? deps.secrets : null,
      tmpDir: path.join(deps.dataDir, "tmp"),
    };
    if (body.data.objects === "caller" && storage.localPath) {
      // Held from before the snapshot until the caller, done copying, hangs up (or dies).
      const release = storage.holdRemovals();
      res.once("close", () => void release());
      if (!res.socket || res.socket.destroyed) {
        await release(); // the caller went away while it asked: no "close" will come
        return;
      }
      res.writeHead(200, { "content-type": "application/x-tar", [OBJECTS_HEADER]: "caller" });
      const started = performance.now();
      await pipeline(Readable.from(tar(withPlan(databaseSnapshot(snapshotSource)))), res, {
        end: false,
      });
      log.info("backup's database half sent", { ms: Math.round(performance.now() - started) });
      return;
    }
    res.writeHead(200, {
      "content-type": "application/x-tar",
      trailer: SUMMARY_TRAILER,
      [OBJECTS_HEADER]: "inline",
    });
    let summary: Omit<BackupSummary, "bytes"> | null = null;
    const started = performance.now();
    let bytes = 0;
    const archive = tar(backupEntries({ ...snapshotSource, storage }, (done) => (summary = done)));
    const counted = (async function* () {
      for await (const chunk of archive) {
        bytes += chunk.length;
        yield chunk;
      }
    })();
    // A reader that goes away ends the backup (and its snapshot) through the generator.
    await pipeline(Readable.from(counted), res, { end: false });
    const done = summary as Omit<BackupSummary, "bytes"> | null;
    if (done) res.addTrailers({ [SUMMARY_TRAILER]: JSON.stringify({ ...done, bytes }) });
    res.end();
    log.info("backup sent", { bytes, ms: Math.round(performance.now() - started) });
    return;
  }
  if (req.url === "/rotate-files-key") {
    const body = rotateRequestSchema.safeParse(await jsonBody(req));
    if (!body.success) return reply(res, 400, { error: z.prettifyError(body.error) });
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    try {
      const report = await rotateFilesKey({
        files: deps.files,
        dataDir: deps.dataDir,
        keySource: deps.keySource,
        ...(body.data.newKey ? { newKey: parseMasterKey(body.data.newKey) } : {}),
        onProgress: (progress) => {
          if (progress.checked % 100 === 0) res.write(`${JSON.stringify({ progress })}\n`);
        },
      });
      log.info("files master key rotated", { ...report });
      res.end(`${JSON.stringify({ report })}\n`);
    } catch (err) {
      res.end(`${JSON.stringify({ error: (err as Error).message })}\n`);
    }
    return;
  }
  reply(res, 404, { error: "No such admin command" });
}

/** A database half's entries, then its plan as one more entry, for a caller to read back. */
async function* withPlan(half: SnapshotHalf): AsyncGenerator<TarEntry> {
  for (;;) {
    const next = await half.next();
    if (!next.done) {
      yield next.value;
      continue;
    }
    const body = Buffer.from(JSON.stringify(next.value));
    yield { name: PLAN_ENTRY, size: body.length, body };
    return;
  }
}

/**
 * The database half a node sent (see POST /backup, "caller"), read back: its entries, then
 * its plan. Throws when the node ended before the plan (an error there: see its log).
 */
export async function* snapshotFromNode(response: AsyncIterable<Buffer>): SnapshotHalf {
  for await (const entry of untar(response)) {
    if (entry.name !== PLAN_ENTRY) {
      yield entry;
      continue;
    }
    const parts: Buffer[] = [];
    for await (const chunk of entry.body) parts.push(chunk);
    const plan: SnapshotPlan = snapshotPlanSchema.parse(
      JSON.parse(Buffer.concat(parts).toString()),
    );
    return plan;
  }
  throw new Error("The node ended the backup early (see its log)");
}

/** The request's JSON body (small: these commands take a few fields); undefined if it is not. */
async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const raw = await readCapped(Readable.toWeb(req) as ReadableStream<Uint8Array>, 4096);
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    return undefined;
  }
}

function reply(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Whether a node listens on the socket (a file left by one that died does not answer). */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Sends an admin command to the node serving DATA_DIR; null when none is running there
 * (no socket, or a socket nobody answers on).
 */
export function adminRequest(
  dataDir: string,
  pathname: "/backup" | "/rotate-files-key",
  body: unknown,
): Promise<IncomingMessage | null> {
  const socketPath = adminSocketPath(dataDir);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
    return Promise.reject(
      new Error(
        `${socketPath} is too long for a unix socket, so a running node cannot be asked: use a shorter DATA_DIR`,
      ),
    );
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: pathname,
        method: "POST",
        headers: { "content-type": "application/json" },
      },
      resolve,
    );
    req.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ECONNREFUSED") resolve(null);
      else reject(err);
    });
    req.end(JSON.stringify(body));
  });
}
