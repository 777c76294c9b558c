import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { finished } from "node:stream/promises";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { openDatabase, type Database, type Db } from "@/lib/db/client";
import { migrateDatabase, MIGRATIONS_DIR } from "@/lib/db/migrate";
import { schema } from "@/lib/db/schema";
import { appTables, type TableShape } from "@/lib/db/snapshot";
import { untar } from "@/lib/export/tar";
import { keyFingerprint, parseMasterKey } from "@/lib/files/crypto/encryption";
import { DiskStorage } from "@/lib/files/disk-storage";
import { isStorageKey } from "@/lib/files/storage";
import { parseSecrets, writeStoredSecrets } from "@/lib/server/secrets";
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupFormat,
  entryNames,
  formatSchema,
  manifestSchema,
  missingKeyWarning,
  ROOT,
} from "./format";

/**
 * Restores a backup (./format.ts) into an empty DATA_DIR, and an empty database when
 * `databaseUrl` is given (else embedded PGlite under DATA_DIR/pglite).
 *
 * Nothing in the target changes until the whole archive has been read into a staging
 * folder inside DATA_DIR and checked: its version and schema first, then every entry's
 * size and SHA-256 against the manifest, which must come last and list exactly what came
 * before it. Only then are the rows loaded (in one transaction) and the objects and
 * secrets moved into place. A refusal removes the staging folder and leaves the target
 * as it was.
 */
export class RestoreRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestoreRefused";
  }
}

export interface RestoreTarget {
  dataDir: string;
  databaseUrl?: string;
  /** FILES_MASTER_KEY when the environment sets it: it must be the backup's. */
  configuredFilesKey?: string;
}

export interface RestoreReport {
  rows: Record<string, number>;
  objects: number;
  includesSecrets: boolean;
  filesKeys: string[];
  warnings: string[];
}

/** Rows inserted per statement. */
const BATCH = 1000;

export async function restoreBackup(
  archive: AsyncIterable<Buffer | Uint8Array>,
  target: RestoreTarget,
): Promise<RestoreReport> {
  const dataDir = path.resolve(target.dataDir);
  const existing = await readdir(dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  if (existing && existing.length > 0)
    throw new RestoreRefused(`DATA_DIR ${dataDir} is not empty: restore only into an empty one`);
  if (target.databaseUrl) await refuseNonEmptyDatabase(target.databaseUrl);

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const staging = path.join(dataDir, `.restore-${randomBytes(6).toString("hex")}`);
  await mkdir(path.join(staging, "db"), { recursive: true, mode: 0o700 });
  await mkdir(path.join(staging, "objects"), { mode: 0o700 });
  let committed = false;
  try {
    const { format, manifest, secrets } = await stage(archive, staging);
    const warnings: string[] = [];
    if (target.configuredFilesKey) {
      const configured = keyFingerprint(parseMasterKey(target.configuredFilesKey));
      if (!format.filesKeys.includes(configured))
        throw new RestoreRefused(
          `FILES_MASTER_KEY in the environment (fingerprint ${configured}) is not the key of this backup's files (${format.filesKeys.join(", ")}); nothing was restored`,
        );
    } else if (!format.includesSecrets) {
      warnings.push(missingKeyWarning(format.filesKeys));
    }

    // Checked: now the target changes.
    if (target.databaseUrl) {
      const database = await openDatabase({ kind: "postgres", url: target.databaseUrl, max: 2 });
      try {
        await load(database, format, staging, manifest.rows);
      } finally {
        await database.close();
      }
    } else {
      const database = await openDatabase({
        kind: "pglite",
        dataDir: path.join(staging, "pglite"),
      });
      try {
        await load(database, format, staging, manifest.rows);
      } finally {
        await database.close();
      }
      await rename(path.join(staging, "pglite"), path.join(dataDir, "pglite"));
    }
    committed = true;
    const storage = await DiskStorage.create(path.join(dataDir, "files", "objects"));
    for (const key of await readdir(path.join(staging, "objects")))
      await storage.adopt(key, path.join(staging, "objects", key));
    if (secrets) writeStoredSecrets(dataDir, secrets);
    await rm(staging, { recursive: true, force: true });
    return {
      rows: manifest.rows,
      objects: manifest.objects,
      includesSecrets: format.includesSecrets,
      filesKeys: format.filesKeys,
      warnings,
    };
  } catch (err) {
    if (!committed) {
      // Leave the target as it was: gone if it did not exist, empty if it was.
      if (existing === null) await rm(dataDir, { recursive: true, force: true });
      else await rm(staging, { recursive: true, force: true });
    }
    throw err;
  }
}

/** Reads the archive into `staging`, checking everything; returns what it said. */
async function stage(archive: AsyncIterable<Buffer | Uint8Array>, staging: string) {
  const seen = new Map<string, { size: number; sha256: string }>();
  let format: BackupFormat | null = null;
  let manifestText: string | null = null;
  let secretsText: string | null = null;
  const tables = new Map(appTables().map((t) => [t.name, t]));
  try {
    for await (const entry of untar(archive)) {
      if (manifestText !== null) throw new RestoreRefused("The archive goes on after its manifest");
      if (!format) {
        if (entry.name !== entryNames.format)
          throw new RestoreRefused("Not a Parley backup (it does not start with format.json)");
        const raw = await text(entry.body);
        seen.set(entry.name, { size: Buffer.byteLength(raw), sha256: sha256(raw) });
        format = checkFormat(raw);
        continue;
      }
      if (entry.name === entryNames.manifest) {
        manifestText = await text(entry.body);
        continue;
      }
      const hash = createHash("sha256");
      let size = 0;
      const hashing = (async function* () {
        for await (const chunk of entry.body) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      })();
      const relative = entry.name.startsWith(`${ROOT}/`) ? entry.name.slice(ROOT.length + 1) : "";
      const table = /^db\/([a-z_]+)\.jsonl$/.exec(relative)?.[1];
      const object = /^objects\/([0-9a-f]{32})$/.exec(relative)?.[1];
      if (entry.name === entryNames.secrets) {
        secretsText = await text(hashing);
      } else if (table && tables.has(table)) {
        await writeTo(path.join(staging, "db", `${table}.jsonl`), hashing);
      } else if (object && isStorageKey(object)) {
        await writeTo(path.join(staging, "objects", object), hashing);
      } else {
        throw new RestoreRefused(`The archive holds an unexpected entry ${entry.name}`);
      }
      seen.set(entry.name, { size, sha256: hash.digest("hex") });
    }
  } catch (err) {
    if (err instanceof RestoreRefused) throw err;
    throw new RestoreRefused(`The archive is unreadable: ${(err as Error).message}`);
  }
  if (!format) throw new RestoreRefused("The archive is empty");
  if (manifestText === null)
    throw new RestoreRefused("The archive is truncated (it has no manifest at its end)");
  const manifest = parseJson(manifestText, manifestSchema, "manifest.json");
  const listed = new Map(manifest.entries.map((e) => [e.name, e]));
  if (listed.size !== seen.size)
    throw new RestoreRefused(
      `The archive is incomplete: the manifest lists ${listed.size} entries, ${seen.size} are there`,
    );
  for (const [name, got] of seen) {
    const want = listed.get(name);
    if (!want || want.size !== got.size || want.sha256 !== got.sha256)
      throw new RestoreRefused(`The archive is damaged: ${name} does not match its checksum`);
  }
  if (format.includesSecrets !== (secretsText !== null))
    throw new RestoreRefused("The archive's secrets do not match what format.json says");
  const secrets =
    secretsText === null ? null : parseJson(secretsText, { parse: parseSecrets }, "secrets.json");
  if (secrets) {
    const held = [secrets.filesMasterKey, secrets.filesMasterKeyPrevious]
      .filter((k): k is string => !!k)
      .map((k) => keyFingerprint(parseMasterKey(k)));
    if (!format.filesKeys.every((k) => held.includes(k)))
      throw new RestoreRefused("The archive's secrets do not hold the key its files need");
  }
  return { format, manifest, secrets };
}

function checkFormat(raw: string): BackupFormat {
  const format = parseJson(raw, formatSchema.loose(), "format.json", (value) => {
    const v = value as { format?: unknown; version?: unknown };
    if (v?.format !== BACKUP_FORMAT) throw new RestoreRefused("Not a Parley backup");
    if (v.version !== BACKUP_VERSION)
      throw new RestoreRefused(
        `This backup is format version ${String(v.version)}; this Parley restores version ${BACKUP_VERSION}`,
      );
  });
  const ours = readMigrationFiles({ migrationsFolder: MIGRATIONS_DIR }).map((m) => m.hash);
  const same =
    format.migrations.length === ours.length && format.migrations.every((h, i) => h === ours[i]);
  if (!same)
    throw new RestoreRefused(
      `This backup's database schema (${format.migrations.length} migrations) is not this Parley's (${ours.length}): restore it with the Parley version that made it, then upgrade`,
    );
  const current = appTables();
  if (JSON.stringify(format.tables) !== JSON.stringify(current))
    throw new RestoreRefused("This backup's tables are not this Parley's");
  return format;
}

function parseJson<T>(
  raw: string,
  parser: { parse(value: unknown): T },
  name: string,
  precheck?: (value: unknown) => void,
): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new RestoreRefused(`The archive's ${name} is not JSON`);
  }
  precheck?.(value);
  try {
    return parser.parse(value);
  } catch (err) {
    throw new RestoreRefused(`The archive's ${name} is invalid: ${(err as Error).message}`);
  }
}

const sha256 = (raw: string) => createHash("sha256").update(raw).digest("hex");

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

async function writeTo(file: string, body: AsyncIterable<Buffer>): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600 });
  try {
    for await (const chunk of body) {
      if (!out.write(chunk)) await once(out, "drain");
    }
  } finally {
    out.end();
    await finished(out);
  }
}

async function refuseNonEmptyDatabase(url: string): Promise<void> {
  const database = await openDatabase({ kind: "postgres", url, max: 1 });
  try {
    for (const table of appTables()) {
      const present = (await database.db.execute(
        sql`select to_regclass(${`public.${table.name}`}) is not null as yes`,
      )) as unknown as { rows: Array<{ yes: boolean }> };
      if (!present.rows[0]?.yes) continue;
      const filled = (await database.db.execute(
        sql`select exists (select 1 from ${sql.identifier(table.name)}) as yes`,
      )) as unknown as { rows: Array<{ yes: boolean }> };
      if (filled.rows[0]?.yes)
        throw new RestoreRefused(
          `The database is not empty (${table.name} has rows): restore only into an empty one`,
        );
    }
  } finally {
    await database.close();
  }
}

/** Creates the schema and inserts every table's rows, all in one transaction. */
async function load(
  database: Database,
  format: BackupFormat,
  staging: string,
  expected: Record<string, number>,
): Promise<void> {
  await migrateDatabase(database);
  const check = (table: TableShape, count: number) => {
    if (count !== expected[table.name])
      throw new RestoreRefused(
        `The archive is damaged: ${table.name} has ${count} rows, the manifest says ${expected[table.name]}`,
      );
  };
  if (database.kind === "pglite") {
    // A database of its own in the staging folder: nobody else queries it, so the
    // transaction is plain BEGIN … COMMIT around COPY, several times faster than INSERT.
    const client = (database.db as unknown as { $client: PGlite }).$client;
    await client.exec("begin");
    try {
      for (const table of format.tables) check(table, await copyTable(client, table, staging));
      await client.exec("commit");
    } catch (err) {
      await client.exec("rollback").catch(() => {});
      throw err;
    }
    return;
  }
  await database.db.transaction(async (tx) => {
    for (const table of format.tables)
      check(table, await loadTable(tx as unknown as Db, table, staging));
  });
}

/** A table's rows, parsed and checked, `size` at a time. */
async function* rowBatches(
  table: TableShape,
  staging: string,
  size: number,
): AsyncGenerator<Array<Array<string | null>>> {
  let batch: Array<Array<string | null>> = [];
  const lines = createInterface({
    input: createReadStream(path.join(staging, "db", `${table.name}.jsonl`)),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (!line) continue;
    const values = JSON.parse(line) as unknown;
    if (
      !Array.isArray(values) ||
      values.length !== table.columns.length ||
      !values.every((v) => v === null || typeof v === "string")
    )
      throw new RestoreRefused(
        `The archive is damaged: a row of ${table.name} has the wrong shape`,
      );
    batch.push(values as Array<string | null>);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** COPY's text format: the columns' text, tab-separated, `\N` for null, backslash escapes. */
const copyField = (value: string | null) =>
  value === null
    ? "\\N"
    : value.replace(
        /[\\\t\n\r]/g,
        (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" })[c]!,
      );

async function copyTable(client: PGlite, table: TableShape, staging: string): Promise<number> {
  const columns = table.columns.map((c) => `"${c}"`).join(", ");
  let count = 0;
  for await (const batch of rowBatches(table, staging, 20_000)) {
    const text = batch.map((row) => row.map(copyField).join("\t")).join("\n") + "\n";
    await client.query(`copy "${table.name}" (${columns}) from '/dev/blob'`, [], {
      blob: new Blob([text]),
    });
    count += batch.length;
  }
  return count;
}

async function loadTable(db: Db, table: TableShape, staging: string): Promise<number> {
  const config = Object.values(schema)
    .map((t) => getTableConfig(t as PgTable))
    .find((c) => c.name === table.name)!;
  const jsonColumns = new Set(
    config.columns.filter((c) => ["json", "jsonb"].includes(c.getSQLType())).map((c) => c.name),
  );
  const columns = sql.join(
    table.columns.map((c) => sql.identifier(c)),
    sql`, `,
  );
  let count = 0;
  for await (const batch of rowBatches(table, staging, BATCH)) {
    const rows = batch.map((values) =>
      Object.fromEntries(
        table.columns.map((column, i) => {
          const value = values[i] ?? null;
          return [column, value !== null && jsonColumns.has(column) ? JSON.parse(value) : value];
        }),
      ),
    );
    // json_populate_recordset reads each text value with its column type's input function:
    // exactly what the snapshot's text output wrote.
    await db.execute(
      sql`insert into ${sql.identifier(table.name)} (${columns}) select ${columns} from json_populate_recordset(null::${sql.identifier(table.name)}, ${JSON.stringify(rows)}::json)`,
    );
    count += batch.length;
  }
  return count;
}
