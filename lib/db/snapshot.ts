import "server-only";
import { randomBytes } from "node:crypto";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import type { Db } from "./client";
import { openTextSession, type TextRow } from "./prepared";
import { schema } from "./schema";

/**
 * A consistent snapshot of every table, read a page at a time (a backup, lib/backup/).
 *
 * One REPEATABLE READ transaction declares a `WITH HOLD` cursor per table and commits:
 * at commit Postgres materialises each cursor's rows, all as of that one snapshot, and
 * the cursors outlive the transaction. Pages are then fetched between the process's other
 * queries. On Postgres that materialising happens in the server, on a connection of its
 * own; on PGlite, which runs Postgres on the web node's thread and is one connection, it
 * is the one pause the snapshot costs (0.36 s for 400,000 rows here, see
 * docs/architecture.md, "Backup and restore"): keeping a transaction open instead would
 * stall every other query on that connection for the whole backup, and PGlite's
 * dumpDataDir held the event loop 3.1 s for the same data.
 *
 * Rows come back as Postgres' text output of each column, which its input functions read
 * back exactly (timestamps to the microsecond, jsonb, arrays), on either driver.
 */
export interface TableShape {
  name: string;
  columns: string[];
}

/** The app's tables, each after every table it references (so a restore can insert in order). */
export function appTables(): TableShape[] {
  const configs = Object.values(schema).map((table) => getTableConfig(table as PgTable));
  const byName = new Map(configs.map((c) => [c.name, c]));
  const ordered: TableShape[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: string[]) => {
    if (placed.has(name)) return;
    if (path.includes(name)) throw new Error(`tables reference each other: ${path.join(" → ")}`);
    const config = byName.get(name)!;
    for (const fk of config.foreignKeys) {
      const target = getTableConfig(fk.reference().foreignTable).name;
      if (target !== name) visit(target, [...path, name]);
    }
    placed.add(name);
    // Generated columns (messages.search) are derived: not stored in a backup, and
    // Postgres refuses values for them on restore.
    ordered.push({ name, columns: config.columns.filter((c) => !c.generated).map((c) => c.name) });
  };
  for (const config of configs) visit(config.name, []);
  return ordered;
}

export interface Snapshot {
  /** The migrations (drizzle's hashes) the snapshot's schema was built by, in order. */
  readonly migrations: string[];
  /** The table's rows, `pageRows` at a time, columns in `TableShape.columns` order. */
  pages(table: TableShape, pageRows?: number): AsyncGenerator<TextRow[]>;
  close(): Promise<void>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function openSnapshot(db: Db, tables: TableShape[]): Promise<Snapshot> {
  const session = await openTextSession(db);
  const tag = randomBytes(4).toString("hex");
  const cursor = (table: TableShape) => quote(`backup_${tag}_${table.name}`);
  let migrations: string[];
  try {
    const rows = await session
      .run(
        [
          "begin isolation level repeatable read read only",
          ...tables.map(
            (t) =>
              `declare ${cursor(t)} no scroll cursor with hold for select ${t.columns
                .map(quote)
                .join(", ")} from ${quote(t.name)}`,
          ),
          "select hash from drizzle.__drizzle_migrations order by created_at, id",
          "commit",
        ].join(";\n"),
      )
      .catch(async (err: unknown) => {
        await session.run("rollback").catch(() => {});
        throw err;
      });
    migrations = rows.map((r) => r[0]!);
  } catch (err) {
    await session.release();
    throw err;
  }
  const open = new Set(tables.map((t) => t.name));
  let closed = false;
  return {
    migrations,
    async *pages(table, pageRows = 1000) {
      if (!open.has(table.name)) throw new Error(`${table.name} is not in this snapshot`);
      for (;;) {
        const page = await session.run(`fetch forward ${pageRows} from ${cursor(table)}`);
        if (page.length === 0) break;
        yield page;
      }
      open.delete(table.name);
      await session.run(`close ${cursor(table)}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        for (const name of open) {
          const table = tables.find((t) => t.name === name)!;
          await session.run(`close ${cursor(table)}`).catch(() => {});
        }
        open.clear();
      } finally {
        await session.release();
      }
    },
  };
}
