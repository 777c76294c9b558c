import "server-only";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { schema } from "./schema";

/**
 * One database handle for the whole process. PGlite (embedded Postgres) under DATA_DIR by
 * default, node-postgres when DATABASE_URL is set. Both are Postgres, so every query and
 * migration is the same SQL; only the driver differs.
 */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction on Db; it has the same query builders. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Anything queries can run on. */
export type Queryable = Db | Tx;

/** Postgres' unique_violation, from node-postgres and PGlite alike. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === "23505") return true;
  }
  return false;
}

export interface Database {
  db: Db;
  kind: "pglite" | "postgres";
  /** Round-trips to the server; throws when it cannot. */
  ping(): Promise<void>;
  /** Runs fn while holding a database-wide lock, so two nodes never migrate at once. */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseOptions =
  | { kind: "pglite"; dataDir?: string /* undefined = in memory */ }
  | { kind: "postgres"; url: string; max?: number };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.kind === "postgres") {
    const { Pool } = await import("pg");
    const { drizzle } = await import("drizzle-orm/node-postgres");
    const pool = new Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client whose server went away emits here; without a listener the process
    // would crash. The pool drops that client and the next query opens a new connection,
    // so a Postgres restart makes requests fail for a moment and then recover.
    pool.on("error", (err) => {
      console.warn(`[db] idle connection lost: ${err.message}`);
    });
    const db = drizzle({ client: pool, schema }) as unknown as Db;
    return {
      db,
      kind: "postgres",
      ping: async () => {
        await pool.query("select 1");
      },
      exclusive: async (name, fn) => {
        const lockClient = await pool.connect();
        try {
          await lockClient.query("select pg_advisory_lock(hashtext($1))", [name]);
          return await fn();
        } finally {
          await lockClient.query("select pg_advisory_unlock(hashtext($1))", [name]).catch(() => {});
          lockClient.release();
        }
      },
      close: () => pool.end(),
    };
  }

  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  let dataDir: string | undefined;
  if (options.dataDir) {
    dataDir = path.resolve(options.dataDir);
    // Private like all of DATA_DIR (lib/server/data-dir.ts tightens PGlite's files at start).
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  }
  const client = await PGlite.create(dataDir ? { dataDir } : {});
  const db = drizzle({ client, schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    ping: async () => {
      await client.query("select 1");
    },
    // One process owns a PGlite data directory, so there is nobody to exclude.
    exclusive: (_name, fn) => fn(),
    close: () => client.close(),
  };
}
