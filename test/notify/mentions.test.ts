import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doSendMessage } from "@/lib/chat/service";
import type { Database } from "@/lib/db/client";
import { mentionMarkdown } from "@/lib/notify/schemas";
import { searchMembers, searchPeople } from "@/lib/notify/service";
import { doCreateRoom, doJoinRoomBySlug, doMarkRead, listRoomsForUser } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";

describe.each(testDbKinds())("mention counts and member search, on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let bob: SessionUser;
  let roomId: string;
  const limits = { maxMessageLength: 4000 };
  const say = (user: SessionUser, body: string) =>
    doSendMessage(database.db, user, { roomId, clientId: crypto.randomUUID(), body }, limits);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    ada = await createUser(database.db, "Ada Lovelace");
    bob = await createUser(database.db, "Bob");
    const room = await doCreateRoom(database.db, ada, { kind: "open" });
    roomId = room.room.id;
    await doJoinRoomBySlug(database.db, bob, room.room.slug);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("counts unread mentions of you (and @room) apart from unread messages", async () => {
    const [before] = await listRoomsForUser(database.db, bob.id);
    await doMarkRead(database.db, bob.id, roomId, before!.lastSeq);
    await say(ada, "no mention here");
    await say(ada, `${mentionMarkdown(bob.id, "Bob")} look`);
    await say(ada, "@room everyone");
    await say(ada, "`@room` in code is not one... but this counts: the body says @room");
    await say(ada, `${mentionMarkdown(ada.id, "Ada Lovelace")} talking to myself`);
    const [room] = await listRoomsForUser(database.db, bob.id);
    expect(room).toMatchObject({ unreadCount: 5, mentionCount: 3 });
    const [mine] = await listRoomsForUser(database.db, ada.id);
    expect(mine!.mentionCount).toBe(0);
  });

  it("finds members by the start of any word of their name", async () => {
    expect(await searchMembers(database.db, roomId, "lov", 8)).toEqual([
      { userId: ada.id, displayName: "Ada Lovelace" },
    ]);
    expect((await searchMembers(database.db, roomId, "", 8)).map((m) => m.displayName)).toEqual([
      "Ada Lovelace",
      "Bob",
    ]);
    expect(await searchMembers(database.db, roomId, "%", 8)).toEqual([]);
  });

  it("finds the people you share a room with, never yourself or a stranger", async () => {
    const stranger = await createUser(database.db, "Bobby Stranger");
    const other = await doCreateRoom(database.db, stranger, { kind: "open" });
    expect(await searchPeople(database.db, bob.id, "", 8)).toEqual([
      { userId: ada.id, displayName: "Ada Lovelace" },
    ]);
    expect(await searchPeople(database.db, bob.id, "bob", 8)).toEqual([]);
    expect(await searchPeople(database.db, ada.id, "b", 8)).toEqual([
      { userId: bob.id, displayName: "Bob" },
    ]);
    // Once they share a room, the stranger is found.
    await doJoinRoomBySlug(database.db, bob, other.room.slug);
    expect((await searchPeople(database.db, bob.id, "stra", 8)).map((p) => p.userId)).toEqual([
      stranger.id,
    ]);
    expect(await searchPeople(database.db, ada.id, "stra", 8)).toEqual([]);
  });
});
