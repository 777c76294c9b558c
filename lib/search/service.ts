import "server-only";
import { and, eq, inArray, or, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { Queryable } from "@/lib/db/client";
import { messages, searchConfig, users } from "@/lib/db/schema";
import { queryRows } from "@/lib/db/sql";
import { badRequest } from "@/lib/errors";
import { accessibleRooms, isMember, type RoomAccess } from "@/lib/rooms/access";
import { hasFilters, nextDay, type ParsedSearch, parseSearch, startOfDay } from "./query";
import type { Highlighted, SearchHit, SearchInput, SearchPage, SearchSort } from "./schemas";

/**
 * Message search (docs/search.md). One query over the generated `messages.search`
 * document and its GIN index, limited to the rooms the searcher is a member of now (the
 * rule of lib/rooms/access.ts, checked in the same statement that reads the hits), newest
 * or best first, a page at a time by keyset cursor. Snippets are ts_headline's, with
 * the matches delimited by two control characters the text cannot contain (they are
 * removed from it first), and handed out as structured parts — never as HTML.
 */

/** Delimiters of a match in ts_headline's output; removed from the text beforehand. */
const START = "\u0001";
const STOP = "\u0002";
const HEADLINE = `StartSel=${START}, StopSel=${STOP}, MaxWords=30, MinWords=12, ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "`;
const HEADLINE_ALL = `StartSel=${START}, StopSel=${STOP}, HighlightAll=true`;
/** Best first ranks this many of the newest matches (docs/search.md). */
export const BEST_CANDIDATES = 1000;
/** How much of a message a search without words shows. */
const PLAIN_SNIPPET = 240;

export async function searchMessages(
  db: Queryable,
  userId: string,
  input: SearchInput,
): Promise<SearchPage> {
  const plan = await planSearch(db, userId, input);
  if (!plan) return { hits: [], nextCursor: null };
  const rows = await inSearchSettings(db, (tx) => queryRows<HitRow>(tx, plan.query));
  const page = rows.slice(0, input.limit);
  const hits = page.map((row) => toHit(row, plan.rooms));
  const last = page.at(-1);
  const nextCursor =
    rows.length > input.limit && last
      ? encodeCursor({
          k: plan.sort,
          t: last.at,
          g: last.room_id,
          s: Number(last.seq),
          ...(plan.sort === "best" ? { r: last.rank } : {}),
        })
      : null;
  return { hits, nextCursor };
}

/**
 * Runs `fn` (the search statement) in a transaction planned without parallel workers. The
 * statement stops after a page (best first: BEST_CANDIDATES) of matches; for a very common
 * word Postgres otherwise plans the walk back through `messages_created_at_idx` as a
 * parallel one, and starting and waiting for its workers cost more than the walk itself:
 * 2–3× slower under load on a 2-core host (docs/search.md, "Measured"). PGlite has no
 * workers; the setting changes nothing there.
 */
export function inSearchSettings<T>(db: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`set local max_parallel_workers_per_gather = 0`);
    return fn(tx);
  });
}

/**
 * The statement a search runs (with what reading its rows needs), or null when the
 * searcher is in no room. Separate so that the benchmark can EXPLAIN it.
 */
export async function planSearch(
  db: Queryable,
  userId: string,
  input: SearchInput,
): Promise<{ query: SQL; rooms: Map<string, RoomAccess["room"]>; sort: SearchSort } | null> {
  const parsed = parseSearch(input.q);
  const words = parsed.text ? sql`websearch_to_tsquery(${searchConfig}, ${parsed.text})` : null;
  if (words) await checkWords(db, words, parsed);
  else if (!hasFilters(parsed)) throw badRequest("Type something to search for");

  const rooms = pickRooms(await accessibleRooms(db, userId), parsed.rooms);
  if (rooms.size === 0) return null;

  const conditions: SQL[] = [
    // The member rooms as values, so the plan can intersect the room index with the text
    // index; and membership itself, so a room left since the line above finds nothing.
    inArray(messages.roomId, [...rooms.keys()]),
    isMember(messages.roomId, userId),
    sql`${messages.deletedAt} is null`,
  ];
  if (words) conditions.push(sql`${messages.search} @@ ${words}`);
  if (parsed.from.length > 0) {
    const names = parsed.from.filter((n) => n.toLowerCase() !== "me").map((n) => n.toLowerCase());
    const me = names.length < parsed.from.length;
    // A semi-join, so that the matches are read from `messages` alone: the author's name
    // is joined on for the page's rows only (below).
    conditions.push(
      or(
        ...(names.length > 0
          ? [
              inArray(
                messages.authorId,
                sql`(select ${users.id} from ${users} where ${inArray(sql`lower(${users.displayName})`, names)})`,
              ),
            ]
          : []),
        ...(me ? [eq(messages.authorId, userId)] : []),
      )!,
    );
  }
  if (parsed.hasFile) conditions.push(sql`${messages.fileNames} <> ''`);
  if (parsed.before) {
    const start = startOfDay(parsed.before, input.tz).toISOString();
    conditions.push(sql`${messages.createdAt} < ${start}::timestamptz`);
  }
  if (parsed.after) {
    const end = startOfDay(nextDay(parsed.after), input.tz).toISOString();
    conditions.push(sql`${messages.createdAt} >= ${end}::timestamptz`);
  }

  // "Best" needs words to rank by; without them it is "newest".
  const sort: SearchSort = input.sort === "best" && words ? "best" : "newest";
  const cursor = input.cursor === undefined ? null : decodeCursor(input.cursor);
  // A cursor from another sort (or another search's) starts nowhere sensible.
  if (cursor && cursor.k !== sort) throw staleCursor();

  const newest = sql`created_at desc, room_id desc, seq desc`;
  // The matches as sort keys only (the document too when ranked): everything else a hit
  // shows is read for the page's rows alone, after the LIMIT.
  const matches = (extra: SQL | undefined, limit: number) =>
    sql`select ${messages.id} as id, ${messages.roomId} as room_id, ${messages.seq} as seq,
          ${messages.createdAt} as created_at
          ${sort === "best" ? sql`, ${messages.search} as search` : sql``}
        from ${messages}
        where ${and(...conditions, extra)}
        order by ${newest}
        limit ${limit}`;

  // The page (LIMIT in a subquery, which Postgres never flattens). Best first ranks the
  // newest BEST_CANDIDATES matches: ranking every match of a common word costs a detoast
  // and a ts_rank_cd per row, and recent messages are what people look for.
  const page =
    sort === "best"
      ? sql`select c.id, c.room_id, c.seq, c.created_at, ts_rank_cd(c.search, ${words}) as rank
          from (${matches(undefined, BEST_CANDIDATES)}) c
          ${
            cursor
              ? sql`where (ts_rank_cd(c.search, ${words}), c.created_at, c.room_id, c.seq) <
                  (${cursor.r ?? "0"}::real, ${cursor.t}::timestamptz, ${cursor.g}::uuid, ${cursor.s})`
              : sql``
          }
          order by rank desc, ${newest}
          limit ${input.limit + 1}`
      : sql`select m.*, 0::real as rank from (${matches(
          cursor
            ? sql`(${messages.createdAt}, ${messages.roomId}, ${messages.seq}) <
                (${cursor.t}::timestamptz, ${cursor.g}::uuid, ${cursor.s})`
            : undefined,
          input.limit + 1,
        )}) m`;

  // The page's rows joined to their text and authors; headlines for them only: ts_headline
  // re-parses the text, too dear for every match.
  const clean = (column: SQL) => sql`translate(${column}, ${START + STOP}, '  ')`;
  const snippet = words
    ? sql`ts_headline(${searchConfig}, ${clean(sql`m.body`)}, ${words}, ${HEADLINE})`
    : sql`left(${clean(sql`m.body`)}, ${PLAIN_SNIPPET})`;
  // File names are marked word by word: split at . - _ as the index splits them (which
  // keeps every character in its place, so toHit lays the marks over the real names).
  const files = words
    ? sql`ts_headline(${searchConfig}, translate(${clean(sql`m.file_names`)}, '._-', '   '), ${words}, ${HEADLINE_ALL})`
    : sql`''`;
  const query = sql`select page.id, page.room_id, page.seq,
          to_char(page.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
          m.edited_at, m.author_id, u.display_name as author_name, page.rank::text as rank,
          ${snippet} as snippet, m.file_names, ${files} as marked_files
        from (${page}) page
          join ${messages} m on m.id = page.id
          join ${users} u on u.id = m.author_id
        order by page.rank desc, page.created_at desc, page.room_id desc, page.seq desc`;
  return { query, rooms, sort };
}

/** The words must give the index something to look for: a word, not only exclusions. */
async function checkWords(db: Queryable, words: SQL, parsed: ParsedSearch): Promise<void> {
  const [shape] = await queryRows<{ lexemes: number; indexable: string }>(
    db,
    sql`select numnode(q) as lexemes, querytree(q) as indexable from ${words} as q`,
  );
  if (!shape || Number(shape.lexemes) === 0) {
    throw badRequest(`There are no words to search for in “${parsed.text}”`);
  }
  // querytree is what an index can search for: "T" when it is only -exclusions.
  if (shape.indexable === "T" && !hasFilters(parsed)) {
    throw badRequest("Say what to look for, not only what to leave out");
  }
}

/**
 * The member rooms `in:` picks (all of them without it). Each name picks the rooms called
 * that (or with that link), else those whose name contains it; one that picks none is an
 * error naming it.
 */
function pickRooms(rooms: RoomAccess[], wanted: string[]): Map<string, RoomAccess["room"]> {
  if (wanted.length === 0) return new Map(rooms.map(({ room }) => [room.id, room]));
  const picked = new Map<string, RoomAccess["room"]>();
  for (const name of wanted) {
    const n = name.toLowerCase();
    const exact = rooms.filter(
      ({ room }) => room.name.toLowerCase() === n || room.slug.toLowerCase() === n,
    );
    const found =
      exact.length > 0 ? exact : rooms.filter(({ room }) => room.name.toLowerCase().includes(n));
    if (found.length === 0) throw badRequest(`You are in no room called “${name}”`);
    for (const { room } of found) picked.set(room.id, room);
  }
  return picked;
}

interface HitRow extends Record<string, unknown> {
  id: string;
  room_id: string;
  seq: string | number;
  at: string;
  edited_at: string | Date | null;
  author_id: string;
  author_name: string;
  rank: string;
  snippet: string;
  file_names: string;
  marked_files: string;
}

function toHit(row: HitRow, rooms: Map<string, RoomAccess["room"]>): SearchHit {
  const room = rooms.get(row.room_id)!;
  return {
    messageId: row.id,
    seq: Number(row.seq),
    room: { id: room.id, slug: room.slug, name: room.name, kind: room.kind },
    author: { id: row.author_id, displayName: row.author_name },
    createdAt: row.at,
    editedAt: row.edited_at === null ? null : new Date(row.edited_at).toISOString(),
    snippet: highlighted(row.snippet.replace(/\s+/g, " ").trim()),
    files: row.file_names
      ? markOver(row.marked_files, row.file_names).split("\n").map(highlighted)
      : [],
  };
}

/**
 * `original` with the marks of `headline`, a headline of a copy of it in which some
 * characters were replaced one for one; unmarked when the headline changed anything else.
 */
function markOver(headline: string, original: string): string {
  let out = "";
  let i = 0;
  for (const ch of headline) {
    if (ch === START || ch === STOP) {
      out += ch;
      continue;
    }
    const kept = original[i];
    if (kept === undefined) return original;
    out += kept;
    i += 1;
  }
  return i === original.length ? out : original;
}

/** ts_headline's output as parts: between START and STOP is a match. */
export function highlighted(text: string): Highlighted {
  const parts: Highlighted = [];
  let mark = false;
  let current = "";
  const flush = () => {
    if (!current) return;
    const prev = parts.at(-1);
    if (prev && prev.mark === mark) prev.text += current;
    else parts.push({ text: current, mark });
    current = "";
  };
  for (const ch of text) {
    if (ch === START || ch === STOP) {
      flush();
      mark = ch === START;
    } else {
      current += ch;
    }
  }
  flush();
  return parts;
}

/**
 * The keyset cursor: where the last page ended, in the sort's order — for "best" the rank,
 * then the time (to the microsecond, as Postgres keeps it), and the room and seq, which
 * order messages sent in the same instant and name one message. Opaque to clients.
 */
const cursorSchema = z.object({
  k: z.enum(["newest", "best"]),
  t: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
  g: z.uuid(),
  s: z.number().int().min(0),
  r: z
    .string()
    .regex(/^-?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/i)
    .optional(),
});
type Cursor = z.output<typeof cursorSchema>;

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

const staleCursor = () => badRequest("That page of results is no longer valid; search again");

function decodeCursor(value: string): Cursor {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch {
    raw = null;
  }
  const parsed = cursorSchema.safeParse(raw);
  if (!parsed.success || (parsed.data.k === "best") !== (parsed.data.r !== undefined)) {
    throw staleCursor();
  }
  return parsed.data;
}
