import "server-only";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Database } from "@/lib/db/client";
import { appTables, openSnapshot } from "@/lib/db/snapshot";
import { spool, type TarEntry } from "@/lib/export/tar";
import { keyFingerprint, type MasterKeys } from "@/lib/files/crypto/encryption";
import { type FileStorage, type HoldableStorage, isStorageKey } from "@/lib/files/storage";
import { parseSecrets, type Secrets } from "@/lib/server/secrets";
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupFormat,
  type BackupManifest,
  type BackupSummary,
  entryNames,
  formatSchema,
} from "./format";

/**
 * A backup's entries (./format.ts), generated as the tar writer reads them, in two halves:
 *
 * - {@link databaseSnapshot}: format.json and each table's rows, a page at a time from one
 *   database snapshot (lib/db/snapshot.ts), spooled to a temporary file (a tar header needs
 *   the size first); it ends with the plan the other half needs: the stored objects those
 *   rows name, the row counts, the secrets.
 * - {@link backupArchive}: those entries, then the objects read from the storage as they
 *   are on disk (large reads, no copies), the secrets and the manifest — hashing every byte
 *   once, on the way out.
 *
 * The two halves may run in different processes: `npm run backup` against a running node
 * gets the database half from the node (which alone can open a live PGlite) and reads the
 * objects from DATA_DIR itself (lib/backup/admin.ts), so no file byte passes through the
 * node's event loop. Memory stays flat; the archive's reader sets the pace.
 *
 * Objects are written once and never changed, so "the objects of the snapshot" is the set
 * its attachments name; removals are held back from before the snapshot until the objects
 * are copied, so none it needs disappears while it runs (HoldableStorage). A key rotation
 * may re-wrap a header while it is copied: the archive records both keys' fingerprints
 * then, and the secrets hold both keys.
 */
export interface SnapshotSource {
  database: Database;
  keys: MasterKeys;
  /** The node's secrets, put in the archive; null leaves them (and so the files' key) out. */
  secrets: Secrets | null;
  /** Where table rows are spooled (a fresh folder inside it, removed at the end). */
  tmpDir: string;
}

export interface BackupSource extends SnapshotSource {
  storage: HoldableStorage;
}

/** What the database half hands to the rest of the backup, once its entries are read. */
export const snapshotPlanSchema = z.object({
  format: formatSchema,
  rows: z.record(z.string(), z.number().int().nonnegative()),
  /** The stored objects the snapshot's rows name, each once. */
  objects: z.array(z.string().refine(isStorageKey, "not a storage key")),
  secrets: z.unknown().transform((value) => (value === null ? null : parseSecrets(value))),
});
export type SnapshotPlan = z.infer<typeof snapshotPlanSchema>;

/** The database half: its entries in archive order, then (as the return value) its plan. */
export type SnapshotHalf = AsyncGenerator<TarEntry, SnapshotPlan>;

/** Reads of an object: few and large, so copying it is a handful of turns, not thousands. */
const OBJECT_READ = 4 * 1024 * 1024;

const jsonBody = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

export async function* databaseSnapshot(source: SnapshotSource): SnapshotHalf {
  await mkdir(source.tmpDir, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(path.join(source.tmpDir, "backup-"));
  try {
    const tables = appTables();
    const snapshot = await openSnapshot(source.database.db, tables);
    try {
      const keys = [source.keys.current, ...(source.keys.previous ? [source.keys.previous] : [])];
      const format: BackupFormat = {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        createdAt: new Date().toISOString(),
        database: source.database.kind,
        migrations: snapshot.migrations,
        tables,
        includesSecrets: source.secrets !== null,
        filesKeys: keys.map(keyFingerprint),
      };
      const body = jsonBody(format);
      yield { name: entryNames.format, size: body.length, body };

      const objects = new Set<string>();
      const rows: Record<string, number> = {};
      for (const table of tables) {
        const named =
          table.name === "attachments"
            ? ["storage_key", "thumbnail_key"].map((c) => table.columns.indexOf(c))
            : [];
        let count = 0;
        yield await spool(
          tmp,
          entryNames.table(table.name),
          (async function* () {
            for await (const page of snapshot.pages(table)) {
              count += page.length;
              for (const row of page) for (const i of named) if (row[i]) objects.add(row[i]);
              yield page.map((row) => JSON.stringify(row)).join("\n") + "\n";
            }
          })(),
        );
        rows[table.name] = count;
      }
      for (const key of objects)
        if (!isStorageKey(key)) throw new Error(`attachments name a bad storage key ${key}`);
      return { format, rows, objects: [...objects], secrets: source.secrets };
    } finally {
      await snapshot.close();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The whole archive from a database half: its entries, the objects its plan names (from
 * `storage`; one gone meanwhile — deleted on another node — is listed in the manifest), the
 * secrets and the manifest, with every entry's size and SHA-256.
 */
export async function* backupArchive(
  snapshot: SnapshotHalf,
  storage: FileStorage,
  onDone?: (summary: Omit<BackupSummary, "bytes">) => void,
): AsyncGenerator<TarEntry> {
  const manifest: BackupManifest = { entries: [], rows: {}, objects: 0, missingObjects: [] };
  const hashed = (entry: TarEntry): TarEntry => {
    const hash = createHash("sha256");
    let size = 0;
    const record = () =>
      manifest.entries.push({ name: entry.name, size, sha256: hash.digest("hex") });
    if (Buffer.isBuffer(entry.body)) {
      hash.update(entry.body);
      size = entry.body.length;
      record();
      return entry;
    }
    const body = entry.body;
    return {
      ...entry,
      body: (async function* () {
        for await (const chunk of body) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
        record();
      })(),
    };
  };

  let plan: SnapshotPlan;
  for (;;) {
    const next = await snapshot.next();
    if (next.done) {
      plan = next.value;
      break;
    }
    yield hashed(next.value);
  }
  manifest.rows = plan.rows;

  for (const key of plan.objects) {
    let object;
    try {
      object = await storage.open(key);
    } catch (err) {
      if ((err as Error).name !== "ObjectNotFoundError") throw err;
      manifest.missingObjects.push(key);
      continue;
    }
    manifest.objects++;
    yield hashed({
      name: entryNames.object(key),
      size: object.size,
      body: (async function* () {
        try {
          for (let at = 0; at < object.size;) {
            // A fresh buffer per read, handed on as it is: no copy.
            const piece = await object.read(
              at,
              Math.min(OBJECT_READ, object.size - at),
              Buffer.allocUnsafeSlow(Math.min(OBJECT_READ, object.size - at)),
            );
            if (piece.length === 0) throw new Error(`stored object ${key} ended early`);
            at += piece.length;
            yield piece;
          }
        } finally {
          await object.close();
        }
      })(),
    });
  }
  if (plan.secrets) {
    const body = jsonBody(plan.secrets);
    yield hashed({ name: entryNames.secrets, size: body.length, body });
  }
  const body = jsonBody(manifest);
  yield { name: entryNames.manifest, size: body.length, body };
  onDone?.({
    rows: manifest.rows,
    objects: manifest.objects,
    missingObjects: manifest.missingObjects.length,
    includesSecrets: plan.format.includesSecrets,
    filesKeys: plan.format.filesKeys,
  });
}

/** Both halves in this process (a node asked for the whole archive, or no node running). */
export async function* backupEntries(
  source: BackupSource,
  onDone?: (summary: Omit<BackupSummary, "bytes">) => void,
): AsyncGenerator<TarEntry> {
  // Held from before the snapshot: no object it names can go before it is copied.
  const release = source.storage.holdRemovals();
  try {
    yield* backupArchive(databaseSnapshot(source), source.storage, onDone);
  } finally {
    await release();
  }
}
