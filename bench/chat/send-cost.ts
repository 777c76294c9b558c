/**
 * What one chat send costs in the database layer, without sockets: times doSendMessage
 * (one named prepared statement, lib/db/prepared.ts), the separate membership and clientId
 * lookups that statement folds in, a bare round trip, and the same statement unprepared
 * (parsed and planned on every call). CPU is this process's only (for Postgres the
 * server's own work is not in it).
 *
 *   node --import ./scripts/node-hooks.mjs --import tsx bench/chat/send-cost.ts [pglite|pglite-memory|postgres]
 *
 * postgres uses BENCH_DATABASE_URL's server (a fresh database, dropped after).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { doCreateGuest } from "@/lib/auth/service";
import { sendMessageParams, sendMessageStatement } from "@/lib/chat/send-statement";
import { doSendMessage } from "@/lib/chat/service";
import { openDatabase, type Database } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { messages } from "@/lib/db/schema";
import { accessRoomById } from "@/lib/rooms/access";
import { doCreateRoom } from "@/lib/rooms/service";
import { createBenchDatabase } from "./servers";
import { round } from "../stats";

const kind = process.argv[2] ?? "pglite";
const N = Number(process.env.BENCH_SEND_COST_N ?? 2000);

async function timeIt(label: string, n: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < Math.min(100, n); i++) await fn(i); // warm up the JIT and caches
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const wall = (performance.now() - t0) / n;
  const cpu = process.cpuUsage(cpu0);
  return { label, wall_us: round(wall * 1000, 0), cpu_us: round((cpu.user + cpu.system) / n, 0) };
}

async function main() {
  let database: Database;
  let dropDb: (() => Promise<void>) | undefined;
  const dir = await mkdtemp(path.join(tmpdir(), "parley-send-cost-"));
  if (kind === "postgres") {
    const bench = await createBenchDatabase(
      process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    );
    dropDb = () => bench.drop();
    database = await openDatabase({ kind: "postgres", url: bench.url });
  } else {
    database = await openDatabase({
      kind: "pglite",
      dataDir: kind === "pglite-memory" ? undefined : path.join(dir, "pglite"),
    });
  }
  try {
    await migrateDatabase(database);
    const { db } = database;
    const user = await doCreateGuest(db, "Cost");
    const { room } = await doCreateRoom(db, user, { kind: "open" });
    const limits = { maxMessageLength: 4000 };
    const body = "x".repeat(100);
    const rows: Array<Record<string, unknown>> = [];
    rows.push(
      await timeIt("doSendMessage (whole)", N, () =>
        doSendMessage(db, user, { roomId: room.id, clientId: crypto.randomUUID(), body }, limits),
      ),
    );
    rows.push(
      await timeIt("accessRoomById (membership)", N, () => accessRoomById(db, room.id, user.id)),
    );
    rows.push(
      await timeIt("clientId lookup (drizzle select)", N, () =>
        db
          .select({ id: messages.id, authorId: messages.authorId })
          .from(messages)
          .where(and(eq(messages.roomId, room.id), eq(messages.clientId, crypto.randomUUID())))
          .limit(1),
      ),
    );
    rows.push(await timeIt("select 1 (driver round trip)", N, () => database.ping()));

    // The same statement doSendMessage prepares, unprepared: parsed and planned per call.
    const client = (
      db as unknown as {
        $client: { query: (text: string, values?: unknown[]) => Promise<unknown> };
      }
    ).$client;
    rows.push(
      await timeIt("the send statement, unprepared (bare driver)", N, () =>
        client.query(
          sendMessageStatement.text,
          sendMessageParams({
            roomId: room.id,
            userId: user.id,
            clientId: crypto.randomUUID(),
            messageId: crypto.randomUUID(),
            body,
            replyToId: null,
            fileNames: "",
          }),
        ),
      ),
    );
    process.stdout.write(`${JSON.stringify({ database: kind, n: N, per_call: rows }, null, 2)}\n`);
  } finally {
    await database.close();
    await dropDb?.();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
