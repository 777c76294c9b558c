import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { historyQuerySchema, type HistoryPage } from "@/lib/chat/schemas";
import { doEditMessage, doSendMessage } from "@/lib/chat/service";
import { loadHistoryAround, loadHistoryPage } from "@/lib/chat/views";
import type { Database } from "@/lib/db/client";
import { doCreateRoom } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";

/**
 * The history a reader pages through from anywhere: the newest page, older and newer pages
 * by cursor, and a window around a message (a permalink, a search result, a notification).
 */
describe.each(testDbKinds())("history in both directions, on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let roomId: string;
  /** seqs[i] is the seq of message `m<i>`; every 10th message was edited once (a seq of its own). */
  const seqs: number[] = [];
  const TOTAL = 130;
  const limits = { maxMessageLength: 4000 };
  const bodies = (page: HistoryPage) =>
    page.messages.map((m) => m.body.replace(/ \(edited\)$/, ""));
  const range = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `m${from + i}`);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    ada = await createUser(database.db, "Ada");
    roomId = (await doCreateRoom(database.db, ada, { kind: "open" })).room.id;
    for (let i = 0; i < TOTAL; i++) {
      const sent = await doSendMessage(
        database.db,
        ada,
        { roomId, clientId: crypto.randomUUID(), body: `m${i}` },
        limits,
      );
      seqs.push(sent.message.seq);
      if (i % 10 === 5) {
        await doEditMessage(
          database.db,
          ada,
          { roomId, messageId: sent.message.id, body: `m${i} (edited)` },
          limits,
        );
      }
    }
  });
  afterAll(async () => {
    await database?.close();
  });

  it("the newest page reaches the live end; older pages know there is more on both sides", async () => {
    const newest = await loadHistoryPage(database.db, roomId, { limit: 20 });
    expect(bodies(newest)).toEqual(range(110, 130));
    expect(newest).toMatchObject({ hasMore: true, hasNewer: false });
    expect(newest.lastSeq).toBeGreaterThan(seqs.at(-1)! - 1);

    const older = await loadHistoryPage(database.db, roomId, { before: seqs[110], limit: 20 });
    expect(bodies(older)).toEqual(range(90, 110));
    expect(older).toMatchObject({ hasMore: true, hasNewer: true });

    const first = await loadHistoryPage(database.db, roomId, { before: seqs[15], limit: 20 });
    expect(bodies(first)).toEqual(range(0, 15));
    expect(first).toMatchObject({ hasMore: false, hasNewer: true });
  });

  it("pages newer from a cursor up to the live end", async () => {
    const newer = await loadHistoryPage(database.db, roomId, { after: seqs[40], limit: 20 });
    expect(bodies(newer)).toEqual(range(41, 61));
    expect(newer).toMatchObject({ hasMore: true, hasNewer: true });

    const last = await loadHistoryPage(database.db, roomId, { after: seqs[115], limit: 20 });
    expect(bodies(last)).toEqual(range(116, 130));
    expect(last).toMatchObject({ hasMore: true, hasNewer: false });

    const beyond = await loadHistoryPage(database.db, roomId, { after: seqs.at(-1)!, limit: 20 });
    expect(beyond.messages).toEqual([]);
    expect(beyond).toMatchObject({ hasMore: true, hasNewer: false });

    const fromStart = await loadHistoryPage(database.db, roomId, { after: 0, limit: 5 });
    expect(bodies(fromStart)).toEqual(range(0, 5));
    expect(fromStart).toMatchObject({ hasMore: false, hasNewer: true });
  });

  it("opens a window around a message, half before it, and pages both ways from it to everything", async () => {
    const window = await loadHistoryAround(database.db, roomId, seqs[60]!, { limit: 20 });
    expect(bodies(window)).toEqual(range(50, 70));
    expect(window).toMatchObject({ hasMore: true, hasNewer: true });
    // The message's current state: its edit is in.
    expect(window.messages.find((m) => m.seq === seqs[55])!.body).toBe("m55 (edited)");

    // Paging older and newer from the window's ends covers the room once, in order.
    const all = [...bodies(window)];
    let page = window;
    while (page.hasMore) {
      page = await loadHistoryPage(database.db, roomId, {
        before: page.messages[0]!.seq,
        limit: 17,
      });
      all.unshift(...bodies(page));
    }
    page = window;
    while (page.hasNewer) {
      page = await loadHistoryPage(database.db, roomId, {
        after: page.messages.at(-1)!.seq,
        limit: 17,
      });
      all.push(...bodies(page));
    }
    expect(all).toEqual(range(0, TOTAL));
  });

  it("near either end, the window takes more from the side that has them", async () => {
    const start = await loadHistoryAround(database.db, roomId, seqs[3]!, { limit: 20 });
    expect(bodies(start)).toEqual(range(0, 20));
    expect(start).toMatchObject({ hasMore: false, hasNewer: true });

    const end = await loadHistoryAround(database.db, roomId, seqs[127]!, { limit: 20 });
    expect(bodies(end)).toEqual(range(110, 130));
    expect(end).toMatchObject({ hasMore: true, hasNewer: false });
  });

  it("a seq that is no message's (an edit's) opens where it would be; one past the end, at the end", async () => {
    // m5's edit took the seq right after m5's.
    const editSeq = seqs[5]! + 1;
    expect(seqs).not.toContain(editSeq);
    const around = await loadHistoryAround(database.db, roomId, editSeq, { limit: 4 });
    expect(bodies(around)).toEqual(["m4", "m5", "m6", "m7"]);
    expect(around.messages.some((m) => m.seq === editSeq)).toBe(false);

    const past = await loadHistoryAround(database.db, roomId, 10_000_000, { limit: 4 });
    expect(bodies(past)).toEqual(range(126, 130));
    expect(past).toMatchObject({ hasMore: true, hasNewer: false });
  });

  it("loadHistoryPage with `around` is the same window", async () => {
    expect(await loadHistoryPage(database.db, roomId, { around: seqs[60], limit: 20 })).toEqual(
      await loadHistoryAround(database.db, roomId, seqs[60]!, { limit: 20 }),
    );
  });
});

describe("the history query", () => {
  it("takes one cursor at most, as whole numbers", () => {
    expect(historyQuerySchema.parse({ around: "42" })).toEqual({ around: 42, limit: 50 });
    expect(historyQuerySchema.parse({ after: "0", limit: "10" })).toEqual({ after: 0, limit: 10 });
    expect(
      historyQuerySchema.safeParse({ before: "3", after: "4" }).error?.issues[0]?.message,
    ).toBe("Give at most one of before, after and around");
    expect(historyQuerySchema.safeParse({ around: "abc" }).success).toBe(false);
    expect(historyQuerySchema.safeParse({ around: "-1" }).success).toBe(false);
    expect(historyQuerySchema.safeParse({ after: "1.5" }).success).toBe(false);
    expect(historyQuerySchema.safeParse({ before: "1e300" }).success).toBe(false);
    expect(historyQuerySchema.safeParse({ limit: "500" }).success).toBe(false);
  });
});
