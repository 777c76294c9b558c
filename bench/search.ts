/**
 * Message search at scale (issue 14): `npm run bench:search -- [flags]` prints JSON.
 *
 *   --db=pglite|postgres|both   (default both; Postgres on TEST_DATABASE_URL's server, in a
 *                                database of its own, dropped after)
 *   --messages=1000000 --rooms=1000   the corpus (--quick: 100,000 over 1,000)
 *   --member-rooms=100          how many rooms the searcher is in (the membership filter)
 *   --queries=100               searches per word class and sort
 *   --sends=3000                sends per phase of the send-path comparison
 *
 * The corpus is loaded without the search column; then the send path (doSendMessage, the
 * app's own) is timed with indexing off, the column and GIN index are added exactly as the
 * migration adds them (timed: what the migration costs an existing deployment), the sends
 * are timed again with indexing on, the searches run (searchMessages, the app's own: the
 * membership filter, ranking or order, headlines), and the column is dropped and the sends
 * timed off once more, so "off" brackets "on". Bodies are 4–23 words drawn from a
 * 30,000-word vocabulary with Zipf-like frequencies (a word of rank r about 1/r as often as
 * the first), so "common" and "rare" words have realistic document frequencies; each
 * class's share of messages is printed. The slowest class's plan is EXPLAIN ANALYZEd.
 * Run under `flock /tmp/heavy.lock`.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { z } from "zod";
import type { SessionUser } from "@/lib/auth/schemas";
import { doSendMessage } from "@/lib/chat/service";
import { type Database, openDatabase } from "@/lib/db/client";
import { MIGRATIONS_DIR, migrateDatabase } from "@/lib/db/migrate";
import { queryRows } from "@/lib/db/sql";
import { searchInputSchema, type SearchSort } from "@/lib/search/schemas";
import { inSearchSettings, planSearch, searchMessages } from "@/lib/search/service";
import { openTestDatabase } from "@/test/support/db";
import { percentiles, round } from "./stats";

const flags = z
  .object({
    db: z.enum(["pglite", "postgres", "both"]).default("both"),
    messages: z.coerce.number().int().min(1000).max(20_000_000).optional(),
    rooms: z.coerce.number().int().min(10).max(100_000).default(1000),
    "member-rooms": z.coerce.number().int().min(1).default(100),
    queries: z.coerce.number().int().min(5).max(10_000).default(100),
    sends: z.coerce.number().int().min(100).max(100_000).default(3000),
    quick: z.literal(true).optional(),
  })
  .strict()
  .parse(
    Object.fromEntries(
      process.argv.slice(2).map((arg) => {
        const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
        if (!m) throw new Error(`unknown argument ${arg} (flags look like --name or --name=value)`);
        return [m[1]!, m[2] ?? true];
      }),
    ),
  );
const MESSAGES = flags.messages ?? (flags.quick ? 100_000 : 1_000_000);
const ROOMS = flags.rooms;
const MEMBER_ROOMS = Math.min(flags["member-rooms"], ROOMS);
const USERS = 200;
const MEMBERS_PER_ROOM = 10;
const BATCH = 50_000;

const progress = (message: string) => process.stderr.write(`[bench:search] ${message}\n`);

/**
 * The vocabulary's word of rank r (1 is the most frequent): "z" and its digits as letters
 * (z, ze, zea, zeio, …), distinct, lower-case, one token each. The same spelling in SQL.
 */
function word(rank: number): string {
  return "z" + String(rank).replace(/\d/g, (d) => "aeioustnrl"[Number(d)]!);
}
const wordSql = (rank: string) => `'z' || translate((${rank})::text, '0123456789', 'aeioustnrl')`;
const VOCABULARY = 30_000;
/** A rank drawn with probability about 1/r: exp of a uniform on [0, ln V). */
const RANK_SQL = `least(${VOCABULARY}, floor(exp(random() * ln(${VOCABULARY})))::int)`;

/** Word classes searched: by rank in the vocabulary (rank 1 is the most frequent). */
const CLASSES = {
  /** Like "the": in about half of all messages. */
  very_common: [1, 2, 3],
  /** In roughly 5–10 % of messages. */
  common: [8, 10, 12, 15, 20],
  /** In a few dozen messages of the million. */
  rare: [20_000, 22_000, 24_000, 26_000, 28_000],
} as const;

async function openBenchDatabase(kind: "pglite" | "postgres") {
  if (kind === "pglite") {
    const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), "parley-bench-search-"));
    const database = await openDatabase({ kind: "pglite", dataDir: path.join(dir, "pglite") });
    return {
      database,
      drop: async () => {
        await database.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  // A fresh database of its own on TEST_DATABASE_URL's server, dropped by close().
  const database = await openTestDatabase("postgres");
  return { database, drop: () => database.close() };
}

/** The migration's statements that add the search column and its indexes. */
async function indexingStatements(): Promise<string[]> {
  const text = await readFile(path.join(MIGRATIONS_DIR, "0007_search.sql"), "utf8");
  return text
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter((s) => s && !/ADD COLUMN "file_names"/.test(s));
}

/** The search column (and so its GIN index) and the time index gone, as before the migration. */
async function indexingOff(db: Database["db"]) {
  await db.execute(sql`alter table messages drop column search`);
  await db.execute(sql`drop index messages_created_at_idx`);
}

async function timeMs<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

async function run(kind: "pglite" | "postgres") {
  const { database, drop } = await openBenchDatabase(kind);
  try {
    return await measure(kind, database);
  } finally {
    await drop();
  }
}

async function measure(kind: "pglite" | "postgres", database: Database) {
  const db = database.db;
  await migrateDatabase(database);
  // Indexing off for the load (added afterwards, as the migration does).
  await indexingOff(db);

  progress(`${kind}: ${USERS} users, ${ROOMS} rooms`);
  const users = await queryRows<{ id: string; display_name: string }>(
    db,
    sql`insert into users (display_name)
        select 'Person ' || n from generate_series(1, ${USERS}) n
        returning id, display_name`,
  );
  const searcher = users[0]!;
  await db.execute(sql`insert into rooms (slug, name)
    select 'bench-room-' || n, 'Room ' || n from generate_series(1, ${ROOMS}) n`);
  // Each room: MEMBERS_PER_ROOM people in a ring of the users; the searcher in the first
  // MEMBER_ROOMS rooms only.
  await db.execute(sql`
    with r as (select id, row_number() over (order by slug) - 1 as i from rooms),
         u as (select id, row_number() over (order by display_name) - 1 as j from users
               where id <> ${searcher.id})
    insert into room_members (room_id, user_id, role)
    select r.id, u.id, 'member' from r join u
      on u.j in (select (r.i + k) % ${USERS - 1} from generate_series(0, ${MEMBERS_PER_ROOM - 1}) k)`);
  await db.execute(sql`
    insert into room_members (room_id, user_id, role)
    select id, ${searcher.id}, 'member' from rooms order by slug limit ${MEMBER_ROOMS}`);

  progress(`${kind}: loading ${MESSAGES.toLocaleString("en")} messages`);
  const [, loadMs] = await timeMs(async () => {
    // Plain tables (a pool's temporary ones live on one connection only), dropped after.
    await db.execute(sql`create table bench_rooms as
      select id, row_number() over (order by slug) - 1 as i from rooms`);
    await db.execute(sql`create table bench_members as
      select room_id, user_id, row_number() over (partition by room_id order by user_id) - 1 as k
      from room_members where user_id <> ${searcher.id}`);
    for (let from = 1; from <= MESSAGES; from += BATCH) {
      const to = Math.min(MESSAGES, from + BATCH - 1);
      // Message n: room n % ROOMS, its seq there n / ROOMS + 1, a member of that room as
      // author, sent over the last year in order; 4–23 words, rank ~ exp(U · ln V).
      await db.execute(sql`
        insert into messages (room_id, author_id, client_id, seq, body, created_at)
        select r.id, m.user_id, gen_random_uuid(), n / ${ROOMS} + 1,
          (select string_agg(${sql.raw(wordSql(RANK_SQL))}, ' ')
             from generate_series(1, 4 + abs(hashint4(n)) % 20) g),
          now() - interval '365 days' * (1 - n::float8 / ${MESSAGES})
        from generate_series(${from}::int, ${to}::int) n
        join bench_rooms r on r.i = n % ${ROOMS}
        join bench_members m on m.room_id = r.id and m.k = n % ${MEMBERS_PER_ROOM}`);
      progress(`${kind}: ${to.toLocaleString("en")} messages`);
    }
    await db.execute(sql`drop table bench_rooms, bench_members`);
    await db.execute(
      sql`update rooms set last_seq = (select max(seq) from messages m where m.room_id = rooms.id)`,
    );
    await db.execute(sql`analyze`);
  });

  const rooms = await queryRows<{ id: string }>(db, sql`select id from rooms`);
  const members = await queryRows<{ room_id: string; user_id: string; display_name: string }>(
    db,
    sql`select m.room_id, m.user_id, u.display_name from room_members m join users u on u.id = m.user_id`,
  );
  const byRoom = new Map<string, SessionUser[]>();
  for (const m of members) {
    const list = byRoom.get(m.room_id) ?? [];
    list.push({ id: m.user_id, displayName: m.display_name, email: null, isGuest: false });
    byRoom.set(m.room_id, list);
  }

  /** Sends through the app's send path, one after another; latency of each. */
  async function sends(label: string): Promise<Record<string, number | null>> {
    progress(`${kind}: ${flags.sends} sends, indexing ${label}`);
    const samples = new Float64Array(flags.sends);
    let cpu = process.cpuUsage();
    const warmup = Math.min(300, flags.sends / 10);
    for (let i = -warmup; i < flags.sends; i++) {
      const room = rooms[Math.floor(Math.random() * rooms.length)]!;
      const people = byRoom.get(room.id)!;
      const author = people[Math.floor(Math.random() * people.length)]!;
      const body = Array.from({ length: 4 + (i & 15) }, () =>
        word(Math.max(1, Math.floor(Math.exp(Math.random() * Math.log(VOCABULARY))))),
      ).join(" ");
      const start = performance.now();
      await doSendMessage(
        db,
        author,
        { roomId: room.id, clientId: crypto.randomUUID(), body },
        { maxMessageLength: 4000 },
      );
      if (i >= 0) samples[i] = performance.now() - start;
      if (i === -1) cpu = process.cpuUsage();
    }
    // This process's CPU per send: on PGlite that is the database's work too, and it is
    // steadier than latency on a machine other work shares.
    const used = process.cpuUsage(cpu);
    return {
      ...percentiles([samples], [50, 95, 99, 100]),
      cpu_us_per_send: round((used.user + used.system) / flags.sends, 1),
    };
  }

  const sendOff1 = await sends("off");

  progress(`${kind}: adding the search column and GIN index (the migration's statements)`);
  const [, indexBuildMs] = await timeMs(async () => {
    for (const statement of await indexingStatements()) await db.execute(sql.raw(statement));
    await db.execute(sql`analyze messages`);
  });
  const [sizes] = await queryRows<{
    index_bytes: string;
    column_bytes: string;
    table_bytes: string;
  }>(
    db,
    sql`select pg_relation_size('messages_search_idx') as index_bytes,
          (select sum(pg_column_size(search)) from messages) as column_bytes,
          pg_total_relation_size('messages') as table_bytes`,
  );

  const sendOn = await sends("on");

  const searchInput = (q: string, sort: SearchSort) =>
    searchInputSchema.parse({ q, sort, limit: 20 });
  const search: Record<string, unknown> = {};
  let worst: { key: string; q: string; sort: SearchSort; p95: number } | null = null;
  for (const [name, ranks] of Object.entries(CLASSES)) {
    const classWords = ranks.map(word);
    const [share] = await queryRows<{ all: string; member: string }>(
      db,
      sql`select count(*) as all,
            count(*) filter (where room_id in (select room_id from room_members where user_id = ${searcher.id})) as member
          from messages where search @@ websearch_to_tsquery('simple', ${classWords[0]!})`,
    );
    for (const sort of ["newest", "best"] as const) {
      progress(`${kind}: ${flags.queries} searches, ${name} words, ${sort} first`);
      const samples = new Float64Array(flags.queries);
      let hits = 0;
      for (let i = -5; i < flags.queries; i++) {
        const q = classWords[(i + classWords.length * 10) % classWords.length]!;
        const start = performance.now();
        const page = await searchMessages(db, searcher.id, searchInput(q, sort));
        if (i >= 0) {
          samples[i] = performance.now() - start;
          hits += page.hits.length;
        }
      }
      const stats = percentiles([samples], [50, 95, 99, 100]);
      const key = `${name}_${sort}`;
      search[key] = {
        ...stats,
        words: classWords,
        hits_per_page: round(hits / flags.queries, 1),
        messages_with_first_word: Number(share!.all),
        in_searchers_rooms: Number(share!.member),
      };
      if (!worst || (stats.p95 ?? 0) > worst.p95) {
        worst = { key, q: classWords[0]!, sort, p95: stats.p95 ?? 0 };
      }
    }
  }

  let plan: string[] = [];
  if (worst) {
    const planned = await planSearch(db, searcher.id, searchInput(worst.q, worst.sort));
    if (planned) {
      // Under the settings the search runs with (searchMessages).
      const rows = await inSearchSettings(db, (tx) =>
        queryRows<Record<string, string>>(tx, sql`explain (analyze, buffers) ${planned.query}`),
      );
      plan = rows.map((r) => Object.values(r)[0]!);
    }
  }

  // Indexing off again (as before the migration): brackets "on".
  await indexingOff(db);
  const sendOff2 = await sends("off, again");

  const p99Off = Math.max(sendOff1.p99 ?? 0, sendOff2.p99 ?? 0);
  return {
    database: kind,
    messages: MESSAGES,
    rooms: ROOMS,
    searcher_rooms: MEMBER_ROOMS,
    load_s: round(loadMs / 1000, 1),
    index: {
      build_s: round(indexBuildMs / 1000, 1),
      gin_index_mb: round(Number(sizes!.index_bytes) / 2 ** 20, 1),
      tsvector_column_mb: round(Number(sizes!.column_bytes) / 2 ** 20, 1),
      messages_table_total_mb: round(Number(sizes!.table_bytes) / 2 ** 20, 1),
    },
    search_ms: search,
    search_p95_target_ms: 150,
    slowest: worst && { class: worst.key, q: worst.q, p95_ms: worst.p95, explain_analyze: plan },
    send_ms: { indexing_off: sendOff1, indexing_on: sendOn, indexing_off_again: sendOff2 },
    send_p99_slowdown_pct: round(((sendOn.p99 ?? 0) / p99Off - 1) * 100, 1),
    send_p99_target_pct: 15,
  };
}

const kinds = flags.db === "both" ? (["pglite", "postgres"] as const) : [flags.db];
// Before minutes of PGlite work, not after them.
if (kinds.includes("postgres") && !process.env.TEST_DATABASE_URL) {
  throw new Error(
    "TEST_DATABASE_URL is not set: name a Postgres server (e.g. postgres://postgres@127.0.0.1:5432/postgres) or pass --db=pglite",
  );
}
const loadAtStart = loadAverage();
const results = [];
for (const kind of kinds) {
  const result = await run(kind);
  // Each database's figures as soon as they are known, in case a later one fails.
  progress(`${kind}: ${JSON.stringify(result)}`);
  results.push(result);
}
process.stdout.write(
  `${JSON.stringify({ bench: "search", load_at_start: loadAtStart, load: loadAverage(), results }, null, 2)}\n`,
);

function loadAverage(): number[] {
  return loadavg().map((n) => round(n));
}
