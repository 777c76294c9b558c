import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { type Database, openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";

/**
 * Databases for data-layer tests. PGlite (in memory unless given a directory) always; the
 * real Postgres at TEST_DATABASE_URL too when it is set (`.ci/run` sets it). Under CI=true a
 * missing TEST_DATABASE_URL is an error, not a skip: CI must prove the Postgres path.
 */
export type TestDbKind = "pglite" | "postgres";

export function testDbKinds(): TestDbKind[] {
  const url = process.env.TEST_DATABASE_URL;
  if (!url && process.env.CI === "true") {
    throw new Error("CI=true but TEST_DATABASE_URL is not set: the Postgres tests cannot run");
  }
  return url ? ["pglite", "postgres"] : ["pglite"];
}

/**
 * A fresh, migrated database of that kind. For Postgres, a new database is created on the
 * server named by TEST_DATABASE_URL and dropped by `close()`, so test files never share
 * state and can run in parallel.
 */
export async function openTestDatabase(
  kind: TestDbKind,
  options: {
    connectVia?: (url: URL) => URL;
    /** PGlite's data directory, as the app's DATA_DIR has it (a benchmark): else in memory. */
    dataDir?: string;
  } = {},
): Promise<Database> {
  if (kind === "pglite") {
    const database = await openDatabase({ kind: "pglite", dataDir: options.dataDir });
    await migrateDatabase(database);
    return database;
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const name = `parley_test_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const direct = new URL(adminUrl);
  direct.pathname = `/${name}`;
  const url = options.connectVia ? options.connectVia(direct) : direct;
  const database = await openDatabase({ kind: "postgres", url: url.toString(), max: 20 });
  await migrateDatabase(database);
  return {
    ...database,
    close: async () => {
      await database.close();
      const drop = new Client({ connectionString: adminUrl });
      await drop.connect();
      try {
        await drop.query(`drop database if exists ${name} with (force)`);
      } finally {
        await drop.end();
      }
    },
  };
}
