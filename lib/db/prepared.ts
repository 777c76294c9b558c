import "server-only";
import type { PGlite, protocol } from "@electric-sql/pglite";
import type { Pool } from "pg";
import type { Db } from "./client";

/**
 * Named prepared statements, for the few queries on the hot path (a chat send). Postgres
 * parses and plans a named statement once per connection instead of on every call; on
 * PGlite, whose every query runs on this thread, that is most of a query's cost (a send
 * drops from ~750 µs to ~130 µs of CPU). Drizzle prepares named statements only for
 * node-postgres, and only for its query builders, so this talks to the drivers directly.
 *
 * Rows come back as arrays of Postgres' text output (or null), in the statement's column
 * order: the caller converts them, exactly as Drizzle's column mappers would.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export type TextRow = Array<string | null>;

export function preparedStatement(name: string, text: string): PreparedStatement {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad statement name ${name}`);
  return { name, text };
}

/** Runs a prepared statement on the database's own handle (not inside a transaction). */
export function runPrepared(
  db: Db,
  statement: PreparedStatement,
  values: Array<string | null>,
): Promise<TextRow[]> {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (isPGlite(client)) return runOnPGlite(client, statement, values);
  if (isPgPool(client)) return runOnPool(client, statement, values);
  throw new Error("runPrepared needs the database handle, not a transaction");
}

function isPGlite(client: unknown): client is PGlite {
  return typeof (client as PGlite | undefined)?.execProtocol === "function";
}

function isPgPool(client: unknown): client is Pool {
  return typeof (client as Pool | undefined)?.connect === "function";
}

// node-postgres: the name makes each pooled connection prepare the statement on first use;
// every column is left as text.
const asText = { getTypeParser: () => (value: string) => value };

async function runOnPool(pool: Pool, statement: PreparedStatement, values: Array<string | null>) {
  const result = await pool.query<TextRow>({
    name: statement.name,
    text: statement.text,
    values,
    rowMode: "array",
    types: asText,
  });
  return result.rows;
}

// PGlite is one connection: the statements it has parsed, by instance.
const parsedBy = new WeakMap<PGlite, Set<string>>();
// Its wire-protocol serializer, loaded once (a dynamic import per call goes through the
// module loader's hooks every time).
let serializer: Promise<typeof protocol.serialize> | undefined;

async function runOnPGlite(pg: PGlite, statement: PreparedStatement, values: Array<string | null>) {
  const serialize = await (serializer ??= import("@electric-sql/pglite").then(
    (m) => m.protocol.serialize,
  ));
  // The same two locks PGlite's own query() takes: wait for any open transaction to end
  // (so this never runs inside someone else's), then for the query in flight.
  return pg._runExclusiveTransaction(() =>
    pg.runExclusive(async () => {
      let parsed = parsedBy.get(pg);
      if (!parsed) parsedBy.set(pg, (parsed = new Set()));
      if (!parsed.has(statement.name)) {
        await pg.execProtocol(
          concat([
            serialize.parse({ name: statement.name, text: statement.text, types: [] }),
            serialize.sync(),
          ]),
        );
        parsed.add(statement.name);
      }
      // Sync ends the exchange whether or not it failed, so an error (a unique violation,
      // say) leaves the connection ready; execProtocol then throws it with its SQLSTATE.
      const { messages } = await pg.execProtocol(
        concat([
          serialize.bind({ statement: statement.name, values }),
          serialize.execute({}),
          serialize.sync(),
        ]),
      );
      const rows: TextRow[] = [];
      for (const message of messages) {
        if (message.name === "dataRow")
          rows.push((message as unknown as { fields: TextRow }).fields);
      }
      return rows;
    }),
  );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * One connection for plain SQL whose rows come back as text (several statements per call
 * allowed): node-postgres' pool lends one client until `release()`; PGlite is one
 * connection anyway, and each call runs as a unit between the other queries of the
 * process (an explicit BEGIN … COMMIT inside one call is never interleaved). For SQL that
 * must stay on one session across calls: a backup's cursors (./snapshot.ts).
 */
export interface TextSession {
  run(text: string): Promise<TextRow[]>;
  release(): Promise<void>;
}

export async function openTextSession(db: Db): Promise<TextSession> {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (isPGlite(client)) {
    const serialize = await (serializer ??= import("@electric-sql/pglite").then(
      (m) => m.protocol.serialize,
    ));
    return {
      run: (text) =>
        client._runExclusiveTransaction(() =>
          client.runExclusive(async () => {
            const { messages } = await client.execProtocol(serialize.query(text));
            const rows: TextRow[] = [];
            for (const message of messages) {
              if (message.name === "dataRow")
                rows.push((message as unknown as { fields: TextRow }).fields);
            }
            return rows;
          }),
        ),
      release: async () => {},
    };
  }
  if (isPgPool(client)) {
    const connection = await client.connect();
    return {
      async run(text) {
        const result = (await connection.query({ text, rowMode: "array", types: asText })) as
          { rows: TextRow[] } | Array<{ rows: TextRow[] }>;
        return Array.isArray(result) ? result.flatMap((r) => r.rows) : result.rows;
      },
      release: async () => connection.release(),
    };
  }
  throw new Error("openTextSession needs the database handle, not a transaction");
}
