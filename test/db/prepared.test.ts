import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, isUniqueViolation } from "@/lib/db/client";
import { preparedStatement, runPrepared } from "@/lib/db/prepared";
import { openTestDatabase, testDbKinds } from "@/test/support/db";

const insert = preparedStatement(
  "test_prepared_insert",
  "insert into prepared_probe (id, label) values ($1, $2) returning id, label, created_at",
);
const count = preparedStatement(
  "test_prepared_count",
  "select count(*) from prepared_probe where label = $1",
);

describe.each(testDbKinds())("prepared statements on %s", (kind) => {
  let database: Database;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await database.db.execute(sql`create table prepared_probe (
      id int primary key, label text, created_at timestamptz not null default now())`);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("answers rows as Postgres' text output, null kept", async () => {
    const rows = await runPrepared(database.db, insert, ["1", "one"]);
    expect(rows).toHaveLength(1);
    const [id, label, createdAt] = rows[0]!;
    expect([id, label]).toEqual(["1", "one"]);
    expect(Math.abs(new Date(createdAt!).getTime() - Date.now())).toBeLessThan(60_000);
    expect(await runPrepared(database.db, count, ["one"])).toEqual([["1"]]);
    const nullable = preparedStatement("test_prepared_null", "select null::text, $1::text");
    expect(await runPrepared(database.db, nullable, [null])).toEqual([[null, null]]);
  });

  it("throws a failed statement's SQLSTATE and stays usable", async () => {
    const error = await runPrepared(database.db, insert, ["1", "again"]).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await runPrepared(database.db, insert, ["2", "two"])).toHaveLength(1);
    expect(await runPrepared(database.db, count, ["again"])).toEqual([["0"]]);
  });

  it("gives 50 concurrent calls each its own answer", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => 100 + i);
    const answers = await Promise.all(
      ids.map((i) => runPrepared(database.db, insert, [String(i), `n${i}`])),
    );
    expect(answers.map((rows) => rows[0]![1])).toEqual(ids.map((i) => `n${i}`));
  });

  it("never runs inside another caller's transaction", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const rolledBack = database.db
      .transaction(async (tx) => {
        await tx.execute(sql`insert into prepared_probe (id, label) values (500, 'tx')`);
        entered();
        await held;
        tx.rollback();
      })
      .catch((e: unknown) => e);
    await inside;
    const outside = runPrepared(database.db, insert, ["501", "outside"]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await rolledBack;
    await outside;
    expect(await runPrepared(database.db, count, ["tx"])).toEqual([["0"]]);
    expect(await runPrepared(database.db, count, ["outside"])).toEqual([["1"]]);
  });

  it("refuses a transaction handle", async () => {
    await expect(
      database.db.transaction((tx) => runPrepared(tx as never, count, ["x"])),
    ).rejects.toThrow(/not a transaction/);
  });
});
