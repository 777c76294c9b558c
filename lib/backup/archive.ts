import "server-only";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import type { Database } from "@/lib/db/client";
import { appTables, openSnapshot } from "@/lib/db/snapshot";
import { spool, type TarEntry } from "@/lib/export/tar";
import { keyFingerprint, type MasterKeys } from "@/lib/files/crypto/encryption";
import { type HoldableStorage, isStorageKey } from "@/lib/files/storage";
import type { Secrets } from "@/lib/server/secrets";
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupFormat,
  type BackupManifest,
  type BackupSummary,
  entryNames,
} from "./format";

/**
 * A backup's entries (./format.ts), generated as the tar writer reads them: each table's
 * rows a page at a time from one database snapshot (lib/db/snapshot.ts), spooled to a
 * temporary file (a tar header needs the size first), then the stored objects those rows
 * name, streamed as they are on disk. Memory stays flat; the archive's reader sets the
 * pace, and every page and every chunk is a separate turn of the event loop.
 *
 * Objects are written once and never changed, so "the objects of the snapshot" is the set
 * its attachments name; removals are held back until the backup ends, so none it needs
 * disappears while it runs (HoldableStorage). A key rotation may re-wrap a header while
 * it is copied: the archive records both keys' fingerprints then, and the secrets hold
 * both keys.
 */
export interface BackupSource {
  database: Database;
  storage: HoldableStorage;
  keys: MasterKeys;
  /** The node's secrets, put in the archive; null leaves them (and so the files' key) out. */
  secrets: Secrets | null;
  /** Where table rows are spooled (a fresh folder inside it, removed at the end). */
  tmpDir: string;
}

export async function* backupEntries(
  source: BackupSource,
  onDone?: (summary: Omit<BackupSummary, "bytes">) => void,
): AsyncGenerator<TarEntry> {
  await mkdir(source.tmpDir, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(path.join(source.tmpDir, "backup-"));
  // Held from before the snapshot: no object it names can go before it is copied.
  const release = source.storage.holdRemovals();
  const tables = appTables();
  const snapshot = await openSnapshot(source.database.db, tables).catch(async (err: unknown) => {
    await release();
    await rm(tmp, { recursive: true, force: true });
    throw err;
  });
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
  const json = (name: string, value: unknown): TarEntry =>
    hashed({ name, size: 0, body: Buffer.from(`${JSON.stringify(value, null, 2)}\n`) });
  const sized = (entry: TarEntry): TarEntry =>
    Buffer.isBuffer(entry.body) ? { ...entry, size: entry.body.length } : entry;

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
    yield sized(json(entryNames.format, format));

    const objectKeys = new Set<string>();
    for (const table of tables) {
      const named =
        table.name === "attachments"
          ? ["storage_key", "thumbnail_key"].map((c) => table.columns.indexOf(c))
          : [];
      let rows = 0;
      yield hashed(
        await spool(
          tmp,
          entryNames.table(table.name),
          (async function* () {
            for await (const page of snapshot.pages(table)) {
              rows += page.length;
              for (const row of page) for (const i of named) if (row[i]) objectKeys.add(row[i]);
              yield page.map((row) => JSON.stringify(row)).join("\n") + "\n";
            }
          })(),
        ),
      );
      manifest.rows[table.name] = rows;
    }
    await snapshot.close();

    for (const key of objectKeys) {
      if (!isStorageKey(key)) throw new Error(`attachments name a bad storage key ${key}`);
      let object;
      try {
        object = await source.storage.open(key);
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
            const scratch = Buffer.allocUnsafe(1024 * 1024);
            for (let at = 0; at < object.size;) {
              const piece = await object.read(
                at,
                Math.min(scratch.length, object.size - at),
                scratch,
              );
              if (piece.length === 0) throw new Error(`stored object ${key} ended early`);
              at += piece.length;
              // A copy: the scratch buffer is reused for the next read.
              yield Buffer.from(piece);
            }
          } finally {
            await object.close();
          }
        })(),
      });
    }
    if (source.secrets) yield sized(json(entryNames.secrets, source.secrets));
    const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    yield { name: entryNames.manifest, size: body.length, body };
    onDone?.({
      rows: manifest.rows,
      objects: manifest.objects,
      missingObjects: manifest.missingObjects.length,
      includesSecrets: format.includesSecrets,
      filesKeys: format.filesKeys,
    });
  } finally {
    await snapshot.close();
    await release();
    await rm(tmp, { recursive: true, force: true });
  }
}
