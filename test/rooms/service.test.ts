import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { doSendMessage } from "@/lib/chat/service";
import { loadEventsSince } from "@/lib/chat/views";
import { accessRoomById, accessRoomBySlug } from "@/lib/rooms/access";
import { SLUG_PATTERN } from "@/lib/rooms/schemas";
import {
  doCreateRoom,
  doJoinRoomBySlug,
  doLeaveRoom,
  doMarkRead,
  doOpenDirectRoom,
  doRenameRoom,
  inviteLinkPath,
  listRoomsForUser,
} from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";

const limits = { maxMessageLength: 1000 };

describe.each(testDbKinds())("rooms on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let bob: SessionUser;
  let gus: SessionUser;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    ada = await createUser(database.db, "Ada");
    bob = await createUser(database.db, "Bob");
    gus = await createGuest(database.db, "Gus");
  });
  afterAll(async () => {
    await database?.close();
  });

  it("creates rooms with unguessable, distinct links and makes the creator owner", async () => {
    const slugs = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const access = await doCreateRoom(database.db, ada, { kind: "open" });
      expect(access.room.slug).toMatch(SLUG_PATTERN);
      expect(access.role).toBe("owner");
      slugs.add(access.room.slug);
    }
    expect(slugs.size).toBe(20);
  });

  it("lets anyone with the link join an open room, as member or guest, once", async () => {
    const { room } = await doCreateRoom(database.db, ada, { kind: "open", name: "Open" });
    const first = await doJoinRoomBySlug(database.db, bob, room.slug);
    expect(first).toMatchObject({ joined: true, access: { role: "member" } });
    expect((await doJoinRoomBySlug(database.db, bob, room.slug)).joined).toBe(false);
    expect((await doJoinRoomBySlug(database.db, gus, room.slug)).access.role).toBe("guest");
  });

  it("admits to a private room only with its invite token, and hides the room otherwise", async () => {
    const owner = await doCreateRoom(database.db, ada, { kind: "private", name: "Secret" });
    const link = await inviteLinkPath(database.db, owner);
    const invite = new URL(link, "http://x").searchParams.get("invite")!;
    await expect(doJoinRoomBySlug(database.db, bob, owner.room.slug)).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(
      doJoinRoomBySlug(database.db, bob, owner.room.slug, "wrong"),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(doJoinRoomBySlug(database.db, bob, "zzzzzz-zzzzzz-zzzzzz")).rejects.toMatchObject({
      code: "not_found",
    });
    expect(await accessRoomBySlug(database.db, owner.room.slug, bob.id)).toBeNull();
    expect((await doJoinRoomBySlug(database.db, bob, owner.room.slug, invite)).joined).toBe(true);
  });

  it("lets only the owner rename, and logs the rename as an event", async () => {
    const { room } = await doCreateRoom(database.db, ada, { kind: "open" });
    await doJoinRoomBySlug(database.db, bob, room.slug);
    await expect(doRenameRoom(database.db, bob, room.id, "Mine now")).rejects.toMatchObject({
      code: "forbidden",
    });
    const renamed = await doRenameRoom(database.db, ada, room.id, "Design review");
    const sync = await loadEventsSince(database.db, room.id, 0, 10);
    expect(sync.events).toEqual([
      { type: "room.renamed", roomId: room.id, seq: renamed.seq, name: "Design review" },
    ]);
  });

  it("hands ownership to the longest-standing account when the owner leaves", async () => {
    const { room } = await doCreateRoom(database.db, ada, { kind: "open" });
    await doJoinRoomBySlug(database.db, gus, room.slug);
    await doJoinRoomBySlug(database.db, bob, room.slug);
    await doLeaveRoom(database.db, ada, room.id);
    expect(await accessRoomById(database.db, room.id, ada.id)).toBeNull();
    expect((await accessRoomById(database.db, room.id, bob.id))?.role).toBe("owner");
    expect((await accessRoomById(database.db, room.id, gus.id))?.role).toBe("guest");
    await expect(doLeaveRoom(database.db, ada, room.id)).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("counts unread messages from others and keeps the read position forward and in range", async () => {
    const carol = await createUser(database.db, "Carol");
    const { room } = await doCreateRoom(database.db, carol, { kind: "open", name: "Unread" });
    await doJoinRoomBySlug(database.db, bob, room.slug);
    const send = (user: SessionUser, body: string) =>
      doSendMessage(
        database.db,
        user,
        { roomId: room.id, clientId: crypto.randomUUID(), body },
        limits,
      );
    await send(carol, "one");
    const { message } = await send(carol, "two");
    await send(bob, "mine does not count");

    const listed = (await listRoomsForUser(database.db, bob.id)).find((r) => r.id === room.id);
    expect(listed?.unreadCount).toBe(2);
    const read = (seq: number) => doMarkRead(database.db, bob.id, room.id, seq);
    // Where it is, with the count as of the room's last seq (Bob's own message is not unread).
    expect(await read(message.seq)).toMatchObject({
      lastReadSeq: message.seq,
      seq: message.seq + 1,
      unreadCount: 0,
      events: [{ type: "read.moved", userId: bob.id, roomId: room.id, lastReadSeq: message.seq }],
    });
    expect(await read(message.seq - 1)).toMatchObject({ lastReadSeq: message.seq, unreadCount: 0 });
    expect((await read(1)).lastReadSeq).toBe(message.seq);
    expect((await read(10_000)).lastReadSeq).toBe(message.seq + 1);
    expect(
      (await listRoomsForUser(database.db, bob.id)).find((r) => r.id === room.id)?.unreadCount,
    ).toBe(0);
    // Most recently active first.
    expect((await listRoomsForUser(database.db, bob.id))[0]?.id).toBe(room.id);
  });

  it("opens one direct conversation per pair, only between people who share a room", async () => {
    const stranger = await createUser(database.db, "Stranger");
    await expect(doOpenDirectRoom(database.db, ada, stranger.id)).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(doOpenDirectRoom(database.db, ada, ada.id)).rejects.toMatchObject({
      code: "bad_request",
    });

    const opened = await Promise.all([
      doOpenDirectRoom(database.db, ada, bob.id),
      doOpenDirectRoom(database.db, bob, ada.id),
      doOpenDirectRoom(database.db, ada, bob.id),
    ]);
    expect(new Set(opened.map((a) => a.room.id)).size).toBe(1);
    expect(opened[0]!.room.kind).toBe("direct");
    // Nobody else gets in by the link.
    await expect(doJoinRoomBySlug(database.db, gus, opened[0]!.room.slug)).rejects.toMatchObject({
      code: "not_found",
    });
  });
});
