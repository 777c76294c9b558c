import { readFileSync } from "node:fs";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doDeleteMessage, doEditMessage, doSendMessage } from "@/lib/chat/service";
import type { Database, Queryable } from "@/lib/db/client";
import { queryRows } from "@/lib/db/sql";
import { attachments, messages, rooms } from "@/lib/db/schema";
import { MIGRATIONS_DIR } from "@/lib/db/migrate";
import { AppError } from "@/lib/errors";
import { doCreateRoom, doJoinRoomBySlug, doLeaveRoom, doRemoveMember } from "@/lib/rooms/service";
import { createSearchLimit } from "@/lib/search/limits";
import { type SearchInput, searchInputSchema, type SearchPage } from "@/lib/search/schemas";
import { BEST_CANDIDATES, inSearchSettings, searchMessages } from "@/lib/search/service";
import { isRateLimited, type RateLimitedError } from "@/lib/server/rate-limit";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";

const limits = { maxMessageLength: 4000 };

describe.each(testDbKinds())("search on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let bob: SessionUser;
  let carl: SessionUser;
  let eve: SessionUser;
  let general: { id: string; slug: string };
  let design: { id: string; slug: string };
  let secret: { id: string; slug: string };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const db = database.db;
    ada = await createUser(db, "Ada Lovelace");
    bob = await createUser(db, "Bob");
    carl = await createUser(db, "Carl");
    eve = await createGuest(db, "Eve");
    general = (await doCreateRoom(db, ada, { kind: "open", name: "General" })).room;
    design = (await doCreateRoom(db, ada, { kind: "open", name: "Design team" })).room;
    secret = (await doCreateRoom(db, eve, { kind: "open", name: "Eve's den" })).room;
    await doJoinRoomBySlug(db, bob, general.slug);
    await doJoinRoomBySlug(db, carl, general.slug);
    await doJoinRoomBySlug(db, bob, design.slug);
  });
  afterAll(async () => {
    await database?.close();
  });

  const send = async (user: SessionUser, roomId: string, body: string, attachmentIds?: string[]) =>
    (
      await doSendMessage(
        database.db,
        user,
        { roomId, clientId: crypto.randomUUID(), body, attachmentIds },
        limits,
      )
    ).message;

  const search = (user: SessionUser, q: string, more: Partial<SearchInput> = {}) =>
    searchMessages(database.db, user.id, searchInputSchema.parse({ q, ...more }));

  const bodies = (page: SearchPage) => page.hits.map((h) => h.snippet.map((p) => p.text).join(""));

  const refusal = async (user: SessionUser, q: string, more: Partial<SearchInput> = {}) => {
    const err = await search(user, q, more).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("bad_request");
    return (err as AppError).message;
  };

  /** Sets when a message was sent (the filters' dates), as if it were that old. */
  const sentAt = (id: string, at: string) =>
    database.db
      .update(messages)
      .set({ createdAt: new Date(at) })
      .where(eq(messages.id, id));

  it("finds a member's messages, with the words marked, and never another room's", async () => {
    const mine = await send(bob, general.id, "The aardvark migration is scheduled for Tuesday");
    await send(eve, secret.id, "aardvark secrets only Eve can read");

    const found = await search(ada, "aardvark");
    expect(found.hits.map((h) => h.messageId)).toEqual([mine.id]);
    const hit = found.hits[0]!;
    expect(hit).toMatchObject({
      seq: mine.seq,
      room: { id: general.id, slug: general.slug, name: "General", kind: "open" },
      author: { id: bob.id, displayName: "Bob" },
    });
    expect(hit.snippet).toContainEqual({ text: "aardvark", mark: true });
    expect(hit.snippet.filter((p) => p.mark).map((p) => p.text)).toEqual(["aardvark"]);

    const eves = await search(eve, "aardvark");
    expect(eves.hits.map((h) => h.room.id)).toEqual([secret.id]);
    // Naming a room she is not in does not reach it either.
    expect(await refusal(eve, "aardvark in:General")).toMatch(/no room called “General”/);
  });

  it("forgets a room the searcher left, and one they were removed from", async () => {
    const message = await send(bob, general.id, "zebracrossing notes");
    expect((await search(carl, "zebracrossing")).hits).toHaveLength(1);
    await doLeaveRoom(database.db, carl, general.id);
    expect((await search(carl, "zebracrossing")).hits).toEqual([]);
    expect(await refusal(carl, "zebracrossing in:General")).toMatch(/no room/);

    await doJoinRoomBySlug(database.db, carl, general.slug);
    expect((await search(carl, "zebracrossing")).hits.map((h) => h.messageId)).toEqual([
      message.id,
    ]);
    await doRemoveMember(database.db, ada, general.id, carl.id);
    expect((await search(carl, "zebracrossing")).hits).toEqual([]);
  });

  it('reads words, "phrases", -exclusions and or', async () => {
    const a = await send(ada, design.id, "quokka review of the big red button");
    const b = await send(ada, design.id, "quokka review: red is big, button later");
    const c = await send(ada, design.id, "quokka draft only");
    const ids = async (q: string) => (await search(ada, q)).hits.map((h) => h.messageId).sort();

    expect(await ids("quokka")).toEqual([a.id, b.id, c.id].sort());
    expect(await ids('quokka "big red button"')).toEqual([a.id]);
    expect(await ids("quokka -draft")).toEqual([a.id, b.id].sort());
    expect(await ids('quokka -"big red"')).toEqual([b.id, c.id].sort());
    expect(await ids("quokka draft or button")).toEqual([a.id, b.id, c.id].sort());
    // Case does not matter.
    expect(await ids("QUOKKA DRAFT")).toEqual([c.id]);
  });

  it("filters by room, person, file, and dates in the searcher's time zone", async () => {
    const inGeneral = await send(ada, general.id, "wombat in general");
    const inDesign = await send(bob, design.id, "wombat in design");
    const old = await send(bob, design.id, "wombat from long ago");
    await sentAt(old.id, "2025-06-30T22:30:00Z");
    const ids = async (q: string, more: Partial<SearchInput> = {}) =>
      (await search(ada, q, more)).hits.map((h) => h.messageId).sort();

    expect(await ids("wombat in:general")).toEqual([inGeneral.id]);
    expect(await ids('wombat in:"design team"')).toEqual([inDesign.id, old.id].sort());
    expect(await ids(`wombat in:${design.slug}`)).toEqual([inDesign.id, old.id].sort());
    // Part of a name, when no room is called exactly that.
    expect(await ids("wombat in:desi")).toEqual([inDesign.id, old.id].sort());
    expect(await ids("wombat in:general in:design")).toHaveLength(3);

    expect(await ids("wombat from:bob")).toEqual([inDesign.id, old.id].sort());
    expect(await ids('wombat from:"ada lovelace"')).toEqual([inGeneral.id]);
    expect(await ids("wombat from:me")).toEqual([inGeneral.id]);
    expect(await ids("wombat from:nobody")).toEqual([]);
    // Filters alone are a search too.
    const alone = await search(ada, "from:bob in:design");
    expect(alone.hits.map((h) => h.messageId)).toEqual(
      expect.arrayContaining([inDesign.id, old.id]),
    );
    for (const hit of alone.hits) {
      expect(hit).toMatchObject({ author: { id: bob.id }, room: { id: design.id } });
    }

    // 2025-06-30T22:30Z is June 30 in UTC but July 1 in Berlin (UTC+2).
    expect(await ids("wombat before:2025-07-01")).toEqual([old.id]);
    expect(await ids("wombat before:2025-07-01", { tz: "Europe/Berlin" })).toEqual([]);
    expect(await ids("wombat after:2025-06-30", { tz: "Europe/Berlin" })).toEqual(
      [inGeneral.id, inDesign.id, old.id].sort(),
    );
    expect(await ids("wombat after:2025-06-30")).toEqual([inGeneral.id, inDesign.id].sort());
    expect(await ids("wombat after:2025-06-01 before:2025-07-01")).toEqual([old.id]);
  });

  it("finds files by name and has:file, and shows their names marked", async () => {
    const [file] = await database.db
      .insert(attachments)
      .values({
        roomId: design.id,
        uploaderId: ada.id,
        name: "Quarterly-Report_v2.pdf",
        size: 10,
        mimeType: "application/pdf",
        storageKey: `test/${crypto.randomUUID()}`,
      })
      .returning();
    const withFile = await send(ada, design.id, "numbers attached", [file!.id]);
    const plain = await send(ada, design.id, "numbers without a file");
    const ids = async (q: string) => (await search(bob, q)).hits.map((h) => h.messageId).sort();

    expect(await ids("quarterly")).toEqual([withFile.id]);
    expect(await ids("report pdf")).toEqual([withFile.id]);
    expect(await ids("quarterly-report_v2.pdf")).toEqual([withFile.id]);
    expect(await ids("numbers")).toEqual([withFile.id, plain.id].sort());
    expect(await ids("numbers has:file")).toEqual([withFile.id]);
    expect(await ids("has:file")).toEqual([withFile.id]);

    const [hit] = (await search(bob, "quarterly")).hits;
    expect(hit!.files).toHaveLength(1);
    expect(hit!.files[0]!.map((p) => p.text).join("")).toBe("Quarterly-Report_v2.pdf");
    expect(hit!.files[0]!.some((p) => p.mark)).toBe(true);

    // Messages sent before search existed get theirs from the migration that fills them.
    await database.db.execute(sql`update messages set file_names = '' where id = ${withFile.id}`);
    expect(await ids("quarterly")).toEqual([]);
    await database.db.execute(
      sql.raw(readFileSync(path.join(MIGRATIONS_DIR, "0008_search_file_names.sql"), "utf8")),
    );
    expect(await ids("quarterly")).toEqual([withFile.id]);

    // A deleted message takes its files out of search with it.
    await doDeleteMessage(database.db, ada, { roomId: design.id, messageId: withFile.id });
    expect(await ids("quarterly")).toEqual([]);
    expect(await ids("has:file")).toEqual([]);
  });

  it("re-indexes an edit and forgets a deleted message", async () => {
    const message = await send(bob, general.id, "the platypus meeting moved");
    expect((await search(ada, "platypus")).hits).toHaveLength(1);
    await doEditMessage(
      database.db,
      bob,
      { roomId: general.id, messageId: message.id, body: "the echidna meeting moved" },
      limits,
    );
    expect((await search(ada, "platypus")).hits).toEqual([]);
    const [edited] = (await search(ada, "echidna")).hits;
    expect(edited).toMatchObject({ messageId: message.id });
    expect(edited!.editedAt).not.toBeNull();

    await doDeleteMessage(database.db, bob, { roomId: general.id, messageId: message.id });
    expect((await search(ada, "echidna")).hits).toEqual([]);
    expect((await search(ada, "from:bob in:general")).hits.map((h) => h.messageId)).not.toContain(
      message.id,
    );
  });

  it("pages newest first and best first by keyset, each message once", async () => {
    const sent: string[] = [];
    for (let i = 0; i < 23; i++) {
      const body = `ibis ${"ibis ".repeat(i % 5)}number ${i}`;
      sent.push((await send(ada, design.id, body)).id);
    }
    for (const sort of ["newest", "best"] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await search(ada, "ibis", { sort, limit: 10, cursor });
        seen.push(...page.hits.map((h) => h.messageId));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(23);
      expect([...seen].sort()).toEqual([...sent].sort());
      if (sort === "newest") expect(seen).toEqual([...sent].reverse());
    }
    // Best first: more of the word ranks higher (four messages say it five times).
    const best = await search(ada, "ibis", { sort: "best", limit: 4 });
    for (const snippet of bodies(best)) expect(snippet.match(/ibis/g)).toHaveLength(5);

    const first = await search(ada, "ibis", { sort: "newest", limit: 10 });
    expect(await refusal(ada, "ibis", { sort: "best", cursor: first.nextCursor! })).toMatch(
      /no longer valid/,
    );
    expect(await refusal(ada, "ibis", { cursor: "not-a-cursor" })).toMatch(/no longer valid/);
  });

  it("orders best first by rank as a number: ten mentions above nine above two", async () => {
    // ts_rank_cd counts each mention of a body word once: ranks 10, 9 and 2, which sort
    // the other way round as text ("9" > "2" > "10"). The newest is the least relevant.
    const sent = new Map<number, string>();
    for (const n of [10, 9, 2]) {
      sent.set(n, (await send(ada, design.id, `${"kiwi ".repeat(n)}said ${n} times`)).id);
    }
    const best = await search(ada, "kiwi", { sort: "best" });
    expect(best.hits.map((h) => h.messageId)).toEqual([sent.get(10), sent.get(9), sent.get(2)]);
    const newest = await search(ada, "kiwi");
    expect(newest.hits.map((h) => h.messageId)).toEqual([sent.get(2), sent.get(9), sent.get(10)]);
  });

  it("ranks best first among the newest matches only", async () => {
    // One old message says it four times; then BEST_CANDIDATES newer ones say it once.
    const old = await send(bob, general.id, "heron heron heron heron");
    await sentAt(old.id, "2020-01-01T00:00:00Z");
    const [room] = await database.db
      .select({ lastSeq: rooms.lastSeq })
      .from(rooms)
      .where(eq(rooms.id, general.id));
    await database.db.execute(sql`
      insert into messages (room_id, author_id, client_id, seq, body)
      select ${general.id}, ${bob.id}, gen_random_uuid(), ${room!.lastSeq} + n, 'a heron ' || n
      from generate_series(1, ${BEST_CANDIDATES}) n`);
    await database.db.execute(
      sql`update rooms set last_seq = last_seq + ${BEST_CANDIDATES} where id = ${general.id}`,
    );
    const best = await search(ada, "heron", { sort: "best", limit: 50 });
    expect(best.hits.map((h) => h.messageId)).not.toContain(old.id);
    // Newest first reaches it, past the newer ones.
    expect((await search(ada, "heron before:2021-01-01")).hits.map((h) => h.messageId)).toEqual([
      old.id,
    ]);
    // Within the candidates, best first puts it on top.
    const [top] = (await search(ada, "heron before:2021-01-01", { sort: "best" })).hits;
    expect(top?.messageId).toBe(old.id);
  });

  it("runs the search statement without parallel workers, and only it", async () => {
    const setting = async (q: Queryable) =>
      (
        await queryRows<{ max_parallel_workers_per_gather: string }>(
          q,
          sql`show max_parallel_workers_per_gather`,
        )
      )[0]!.max_parallel_workers_per_gather;
    const outside = await setting(database.db);
    expect(await inSearchSettings(database.db, setting)).toBe("0");
    expect(await setting(database.db)).toBe(outside);
    // PGlite runs without workers anyway; Postgres plans with them by default.
    if (kind === "postgres") expect(outside).not.toBe("0");
  });

  it("treats hostile input as text and refuses what it cannot search, clearly", async () => {
    const body =
      "<script>alert('x')</script> \u0001mongoose\u0002 `code` **bold** '); drop table messages; --";
    const message = await send(bob, general.id, body);
    const [hit] = (await search(ada, "mongoose")).hits;
    expect(hit?.messageId).toBe(message.id);
    const text = hit!.snippet.map((p) => p.text).join("");
    expect(text).not.toMatch(/[\u0001\u0002]/);
    expect(hit!.snippet.filter((p) => p.mark).map((p) => p.text)).toEqual(["mongoose"]);

    for (const q of [
      "'); drop table messages; --",
      "mongoose' or 1=1 --",
      "\\x00 mongoose :* & | !",
      "mongoose <-> (",
      "mongoose in:general\u0000",
    ]) {
      await search(ada, q).catch((err: unknown) => {
        // Refused as a bad search, or searched: never anything else.
        expect((err as AppError).code).toBe("bad_request");
      });
    }
    // `or` is the search language's own: this is "mongoose" or "1=1".
    expect((await search(ada, "mongoose' or 1=1 --")).hits.map((h) => h.messageId)).toEqual([
      message.id,
    ]);
    expect(await database.db.$count(messages)).toBeGreaterThan(0);

    expect(await refusal(ada, "!!! ???")).toMatch(/no words/);
    expect(await refusal(ada, "-mongoose")).toMatch(/not only what to leave out/);
    expect(await refusal(ada, "mongoose before:yesterday")).toMatch(/before: takes a date/);
    expect(await refusal(ada, "mongoose before:2025-02-30")).toMatch(/before: takes a date/);
    expect(await refusal(ada, "mongoose has:link")).toMatch(/has: takes "file"/);
    expect(await refusal(ada, "mongoose in:")).toMatch(/in: needs a value/);
    expect(await refusal(ada, "after:2026-02-01 before:2026-01-01")).toMatch(/swap/);
    // With a filter, leaving words out is a search.
    await expect(search(ada, "-mongoose in:general")).resolves.toBeTruthy();
    expect(searchInputSchema.safeParse({ q: "x", tz: "Mars/Olympus" }).success).toBe(false);
    expect(searchInputSchema.safeParse({ q: "   " }).success).toBe(false);
    expect(searchInputSchema.safeParse({ q: "x".repeat(501) }).success).toBe(false);
  });
});

describe("the search limit", () => {
  it("refuses a user past the budget, saying when to try again, and not others", async () => {
    const limit = createSearchLimit({ SEARCH_RATE_POINTS: 2, SEARCH_RATE_WINDOW_S: 10 });
    await limit.consume("ada");
    await limit.consume("ada");
    const err = await limit.consume("ada").catch((e: unknown) => e);
    expect(isRateLimited(err)).toBe(true);
    expect((err as RateLimitedError).message).toMatch(/searching too fast; wait \d+ seconds?/);
    await expect(limit.consume("bob")).resolves.toBeUndefined();
  });
});
