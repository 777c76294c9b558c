import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import type { MessageView, RoomEvent } from "@/lib/chat/schemas";
import { doDeleteMessage, doEditMessage, doReact, doSendMessage } from "@/lib/chat/service";
import { loadEventsSince, loadHistoryPage } from "@/lib/chat/views";
import { AppError } from "@/lib/errors";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";

const limits = { maxMessageLength: 200 };

describe.each(testDbKinds())("chat service on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let bob: SessionUser;
  let outsider: SessionUser;
  let roomId: string;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const db = database.db;
    ada = await createUser(db, "Ada");
    bob = await createUser(db, "Bob");
    outsider = await createGuest(db, "Eve");
    const { room, slug } = await doCreateRoom(db, ada, { kind: "open" }).then((a) => ({
      room: a.room,
      slug: a.room.slug,
    }));
    roomId = room.id;
    await doJoinRoomBySlug(db, bob, slug);
  });
  afterAll(async () => {
    await database?.close();
  });

  const send = (user: SessionUser, body: string, clientId = crypto.randomUUID()) =>
    doSendMessage(database.db, user, { roomId, clientId, body }, limits);

  it("sends a message and logs it with the next seq", async () => {
    const before = (await loadEventsSince(database.db, roomId, 0, 1000)).lastSeq;
    const { message, event } = await send(ada, "  hello **world**  ");
    expect(message.body).toBe("hello **world**");
    expect(message.author).toEqual({ id: ada.id, displayName: "Ada" });
    expect(message.seq).toBe(before + 1);
    expect(event).toMatchObject({ type: "message.created", seq: before + 1 });
  });

  it("returns the original message for a retried send and logs nothing new", async () => {
    const clientId = crypto.randomUUID();
    const first = await send(bob, "once", clientId);
    const again = await send(bob, "once", clientId);
    expect(again.event).toBeNull();
    expect(again.message.id).toBe(first.message.id);
    expect(again.message.seq).toBe(first.message.seq);
    const sync = await loadEventsSince(database.db, roomId, first.message.seq, 100);
    expect(sync.events).toHaveLength(0);
  });

  it("keeps one message for a clientId sent by many at once", async () => {
    const clientId = crypto.randomUUID();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => send(bob, "raced", clientId)),
    );
    expect(new Set(outcomes.map((o) => o.message.id)).size).toBe(1);
    expect(outcomes.filter((o) => o.event).length).toBe(1);
  });

  it("hands out gapless seqs to 50 concurrent senders", async () => {
    const start = (await loadEventsSince(database.db, roomId, 0, 1)).lastSeq;
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(i % 2 ? ada : bob, `message ${i}`)),
    );
    const seqs = outcomes.map((o) => o.message.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => start + i + 1));
    const sync = await loadEventsSince(database.db, roomId, start, 1000);
    expect(sync.events.map((e) => e.seq)).toEqual(seqs);
  });

  it("refuses a message over the length limit or empty, and writes nothing", async () => {
    const before = (await loadEventsSince(database.db, roomId, 0, 1)).lastSeq;
    await expect(send(ada, "x".repeat(201))).rejects.toMatchObject({ code: "too_large" });
    await expect(send(ada, "   \n ")).rejects.toMatchObject({ code: "bad_request" });
    expect((await loadEventsSince(database.db, roomId, 0, 1)).lastSeq).toBe(before);
  });

  it("lets no outsider send, edit, react or delete", async () => {
    const { message } = await send(ada, "members only");
    const attempts = [
      () => send(outsider, "let me in"),
      () =>
        doEditMessage(database.db, outsider, { roomId, messageId: message.id, body: "x" }, limits),
      () =>
        doReact(database.db, outsider, { roomId, messageId: message.id, emoji: "👍", on: true }),
      () => doDeleteMessage(database.db, outsider, { roomId, messageId: message.id }),
    ];
    for (const attempt of attempts) {
      await expect(attempt()).rejects.toMatchObject({ code: "not_found" });
    }
  });

  it("edits, reacts and deletes with one event each, and no event for a no-op", async () => {
    const { message } = await send(bob, "draft");
    const edited = await doEditMessage(
      database.db,
      bob,
      { roomId, messageId: message.id, body: "final" },
      limits,
    );
    expect(edited.event).toMatchObject({ type: "message.edited", seq: message.seq + 1 });
    expect(edited.message.body).toBe("final");
    expect(edited.message.editedAt).not.toBeNull();

    const same = await doEditMessage(
      database.db,
      bob,
      { roomId, messageId: message.id, body: "final" },
      limits,
    );
    expect(same.event).toBeNull();

    await expect(
      doEditMessage(database.db, ada, { roomId, messageId: message.id, body: "hijack" }, limits),
    ).rejects.toMatchObject({ code: "forbidden" });

    const liked = await doReact(database.db, ada, {
      roomId,
      messageId: message.id,
      emoji: "👍",
      on: true,
    });
    expect(liked.event?.type).toBe("reaction.changed");
    expect(liked.message.reactions).toEqual([{ emoji: "👍", count: 1, userIds: [ada.id] }]);
    const likedAgain = await doReact(database.db, ada, {
      roomId,
      messageId: message.id,
      emoji: "👍",
      on: true,
    });
    expect(likedAgain.event).toBeNull();
    const unliked = await doReact(database.db, ada, {
      roomId,
      messageId: message.id,
      emoji: "👍",
      on: false,
    });
    expect(unliked.message.reactions).toEqual([]);

    const deleted = await doDeleteMessage(database.db, bob, { roomId, messageId: message.id });
    expect(deleted.event?.type).toBe("message.deleted");
    expect(deleted.message.body).toBe("");
    expect(deleted.message.deletedAt).not.toBeNull();
    const deletedAgain = await doDeleteMessage(database.db, bob, { roomId, messageId: message.id });
    expect(deletedAgain.event).toBeNull();
    await expect(
      doReact(database.db, ada, { roomId, messageId: message.id, emoji: "🎉", on: true }),
    ).rejects.toMatchObject({ code: "not_found" });
  });

  it("lets the room's owner delete anyone's message, and no one else", async () => {
    const { message } = await send(bob, "oops");
    const { message: adas } = await send(ada, "mine");
    await expect(
      doDeleteMessage(database.db, bob, { roomId, messageId: adas.id }),
    ).rejects.toBeInstanceOf(AppError);
    const removed = await doDeleteMessage(database.db, ada, { roomId, messageId: message.id });
    expect(removed.message.deletedAt).not.toBeNull();
  });

  it("quotes the message a reply answers", async () => {
    const { message: question } = await send(ada, "Lunch at *noon*?");
    const { message: reply } = await doSendMessage(
      database.db,
      bob,
      { roomId, clientId: crypto.randomUUID(), body: "yes", replyToId: question.id },
      limits,
    );
    expect(reply.replyTo).toEqual({
      id: question.id,
      authorName: "Ada",
      excerpt: "Lunch at *noon*?",
      deleted: false,
    });
  });

  it("converges: events applied to an old page equal a fresh fetch", async () => {
    const old = await loadHistoryPage(database.db, roomId, { limit: 200 });
    const { message: a } = await send(ada, "after the snapshot");
    const { message: b } = await send(bob, "another");
    await doEditMessage(
      database.db,
      ada,
      { roomId, messageId: a.id, body: "edited after" },
      limits,
    );
    await doReact(database.db, bob, { roomId, messageId: a.id, emoji: "🎉", on: true });
    await doDeleteMessage(database.db, bob, { roomId, messageId: b.id });
    const lastOld = old.messages.at(-1)!;
    await doEditMessage(
      database.db,
      lastOld.author.id === ada.id ? ada : bob,
      {
        roomId,
        messageId: lastOld.id,
        body: "changed an old one",
      },
      limits,
    ).catch(() => undefined);

    const sync = await loadEventsSince(database.db, roomId, old.lastSeq, 1000);
    const state = applyEvents(old.messages, sync.events);
    const fresh = await loadHistoryPage(database.db, roomId, { limit: 200 });
    expect(state).toEqual(fresh.messages);
    expect(sync.throughSeq).toBe(fresh.lastSeq);
  });

  it("pages history by seq, oldest first in each page", async () => {
    const newest = await loadHistoryPage(database.db, roomId, { limit: 5 });
    expect(newest.messages).toHaveLength(5);
    expect(newest.hasMore).toBe(true);
    const older = await loadHistoryPage(database.db, roomId, {
      before: newest.messages[0]!.seq,
      limit: 5,
    });
    const seqs = [...older.messages, ...newest.messages].map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(older.messages.at(-1)!.seq).toBeLessThan(newest.messages[0]!.seq);
  });
});

/** The client's reducer in miniature: upsert by id, keep seq order. */
function applyEvents(messages: MessageView[], events: RoomEvent[]): MessageView[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  for (const event of events) {
    if (event.type !== "room.renamed") byId.set(event.message.id, event.message);
  }
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}
