import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { doChangePassword, doDeleteAccount, doUpgradeGuest } from "@/lib/auth/account";
import { beginRegistration, finishRegistration, relyingParty } from "@/lib/auth/passkeys";
import type { SessionUser } from "@/lib/auth/schemas";
import { authenticate, findSessionUser } from "@/lib/auth/service";
import { doReact, doSendMessage } from "@/lib/chat/service";
import { loadEventsSince } from "@/lib/chat/views";
import type { Database } from "@/lib/db/client";
import {
  attachments,
  messages,
  passkeys,
  reactions,
  roomEvents,
  roomMembers,
  rooms,
  users,
} from "@/lib/db/schema";
import { doCreateRoom, doJoinRoomBySlug, listRoomsForUser } from "@/lib/rooms/service";
import { SoftAuthenticator } from "@/test/support/authenticator";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";

const limits = { maxMessageLength: 1000 };
const PASSWORD = "correct horse battery";

describe.each(testDbKinds())("account management on %s", (kind) => {
  let database: Database;
  const send = (user: SessionUser, roomId: string, body: string) =>
    doSendMessage(database.db, user, { roomId, clientId: crypto.randomUUID(), body }, limits);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("turns a guest into an account that keeps its rooms and history", async () => {
    const guest = await createGuest(database.db, "Visitor");
    const room = await doCreateRoom(database.db, guest, { kind: "open" });
    const { message } = await send(guest, room.room.id, "hello from a guest");
    const email = `visitor-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const upgraded = await doUpgradeGuest(database.db, guest.id, { email, password: PASSWORD });
    expect(upgraded).toEqual({ ...guest, email, isGuest: false });
    // The guest's session goes on (same version), and the password signs in as the same id.
    expect(await findSessionUser(database.db, guest.id, 0)).toEqual(upgraded);
    expect(await authenticate(database.db, email, PASSWORD)).toEqual({
      user: upgraded,
      sessionVersion: 0,
    });
    expect((await listRoomsForUser(database.db, guest.id)).map((r) => r.id)).toEqual([
      room.room.id,
    ]);
    const [kept] = await database.db.select().from(messages).where(eq(messages.id, message.id));
    expect(kept).toMatchObject({ authorId: guest.id, body: "hello from a guest" });

    // Not twice, and not onto an email someone has.
    await expect(
      doUpgradeGuest(database.db, guest.id, { email: "x@example.test", password: PASSWORD }),
    ).rejects.toThrow("already has an email");
    const other = await createGuest(database.db, "Other");
    await expect(
      doUpgradeGuest(database.db, other.id, { email, password: PASSWORD }),
    ).rejects.toThrow("already exists");
    const [still] = await database.db.select().from(users).where(eq(users.id, other.id));
    expect(still).toMatchObject({ isGuest: true, email: null, passwordHash: null });
  });

  it("changes the password: the old one stops working and every older session ends", async () => {
    const ada = await createUser(database.db, "Ada");
    await expect(
      doChangePassword(database.db, null, ada.id, {
        currentPassword: "wrong password",
        newPassword: "a new password",
      }),
    ).rejects.toThrow("current password is not right");
    expect(await findSessionUser(database.db, ada.id, 0)).toEqual(ada);

    const version = await doChangePassword(database.db, null, ada.id, {
      currentPassword: PASSWORD,
      newPassword: "a new password",
    });
    expect(version).toBe(1);
    expect(await findSessionUser(database.db, ada.id, 0)).toBeNull();
    expect(await findSessionUser(database.db, ada.id, 1)).toEqual(ada);
    expect(await authenticate(database.db, ada.email!, PASSWORD)).toBeNull();
    expect(await authenticate(database.db, ada.email!, "a new password")).toEqual({
      user: ada,
      sessionVersion: 1,
    });
  });

  describe("deleting an account", () => {
    let ada: SessionUser;
    let bob: SessionUser;
    let kept: string; // ada's room with bob in it: passes to bob
    let alone: string; // ada's room with no one else: deleted
    let bobs: string; // bob's room where ada wrote and reacted

    beforeAll(async () => {
      ada = await createUser(database.db, "Ada");
      bob = await createUser(database.db, "Bob");
      const shared = await doCreateRoom(database.db, ada, { kind: "open" });
      kept = shared.room.id;
      await doJoinRoomBySlug(database.db, bob, shared.room.slug);
      alone = (await doCreateRoom(database.db, ada, { kind: "open" })).room.id;
      const other = await doCreateRoom(database.db, bob, { kind: "open" });
      bobs = other.room.id;
      await doJoinRoomBySlug(database.db, ada, other.room.slug);
      await send(ada, kept, "ada in her room");
      await send(bob, kept, "bob in ada's room");
      await send(ada, alone, "ada alone");
      const { message: bobsMessage } = await send(bob, bobs, "bob at home");
      await send(ada, bobs, "ada visiting");
      await doReact(database.db, ada, {
        roomId: bobs,
        messageId: bobsMessage.id,
        emoji: "👍",
        on: true,
      });
      await database.db.insert(attachments).values({
        roomId: bobs,
        uploaderId: ada.id,
        name: "notes.txt",
        size: 5,
        mimeType: "text/plain",
        storageKey: "objects/ada-notes",
      });
      const rp = relyingParty({ name: "Parley" }, "localhost");
      const options = await beginRegistration(database.db, ada, rp, { challengeTtlS: 60 });
      const device = new SoftAuthenticator("localhost", "http://localhost");
      await finishRegistration(database.db, ada, rp, device.register(options), "Phone");
    });

    const snapshot = async () => ({
      users: await database.db.select().from(users).orderBy(users.id),
      rooms: await database.db.select().from(rooms).orderBy(rooms.id),
      members: await database.db.select().from(roomMembers),
      messages: await database.db.select().from(messages).orderBy(messages.id),
      events: await database.db.select().from(roomEvents),
      reactions: await database.db.select().from(reactions),
      attachments: await database.db.select().from(attachments),
      passkeys: await database.db.select().from(passkeys),
    });

    it("asks for the password, and changes nothing without it", async () => {
      const before = await snapshot();
      await expect(doDeleteAccount(database.db, ada.id, "wrong")).rejects.toThrow(
        "Enter your password",
      );
      expect(await snapshot()).toEqual(before);
    });

    it("does nothing at all when it fails midway", async () => {
      const before = await snapshot();
      // The last step (emptying the user row) fails, after every other step ran.
      await database.db.execute(sql`
        create function refuse_deletion() returns trigger language plpgsql as $$
        begin
          if new.deleted_at is not null then raise exception 'disk on fire'; end if;
          return new;
        end $$`);
      await database.db.execute(sql`
        create trigger refuse_deletion before update on users
        for each row execute function refuse_deletion()`);
      try {
        await expect(doDeleteAccount(database.db, ada.id, PASSWORD)).rejects.toThrow();
      } finally {
        await database.db.execute(sql`drop trigger refuse_deletion on users`);
        await database.db.execute(sql`drop function refuse_deletion()`);
      }
      expect(await snapshot()).toEqual(before);
    });

    it("erases its messages through the logs, hands on or deletes its rooms, empties the row", async () => {
      const lastSeq = async (roomId: string) =>
        (await loadEventsSince(database.db, roomId, 0, 1000)).lastSeq;
      const bobsSeq = await lastSeq(bobs);
      const { storageKeys } = await doDeleteAccount(database.db, ada.id, PASSWORD);
      expect(storageKeys).toEqual(["objects/ada-notes"]);

      const [row] = await database.db.select().from(users).where(eq(users.id, ada.id));
      expect(row).toMatchObject({
        email: null,
        passwordHash: null,
        displayName: "Deleted account",
        sessionVersion: 1,
      });
      expect(row!.deletedAt).not.toBeNull();
      expect(await findSessionUser(database.db, ada.id, 0)).toBeNull();
      expect(await authenticate(database.db, ada.email!, PASSWORD)).toBeNull();

      // The room with no one else is gone; the shared one is bob's now.
      expect(await database.db.select().from(rooms).where(eq(rooms.id, alone))).toEqual([]);
      const members = await database.db
        .select({ userId: roomMembers.userId, role: roomMembers.role })
        .from(roomMembers)
        .where(eq(roomMembers.roomId, kept));
      expect(members).toEqual([{ userId: bob.id, role: "owner" }]);
      expect(
        await database.db.select().from(roomMembers).where(eq(roomMembers.userId, ada.id)),
      ).toEqual([]);

      // Its messages are erased; bob's stay.
      const left = await database.db
        .select({ authorId: messages.authorId, body: messages.body, deleted: messages.deletedAt })
        .from(messages)
        .where(eq(messages.authorId, ada.id));
      expect(left).toHaveLength(2);
      expect(left.every((m) => m.body === "" && m.deleted !== null)).toBe(true);
      const bobsLeft = await database.db
        .select({ body: messages.body })
        .from(messages)
        .where(and(eq(messages.authorId, bob.id)));
      expect(bobsLeft.map((m) => m.body).sort()).toEqual(["bob at home", "bob in ada's room"]);

      // In bob's room: one message.deleted and one reaction.changed, gapless after the old end.
      const { events, lastSeq: after } = await loadEventsSince(database.db, bobs, bobsSeq, 100);
      expect(after).toBe(bobsSeq + 2);
      expect(events.map((e) => [e.seq, e.type]).sort()).toEqual([
        [bobsSeq + 1, expect.any(String)],
        [bobsSeq + 2, expect.any(String)],
      ]);
      expect(events.map((e) => e.type).sort()).toEqual(["message.deleted", "reaction.changed"]);
      expect(await database.db.select().from(reactions)).toEqual([]);
      expect(
        await database.db.select().from(attachments).where(eq(attachments.uploaderId, ada.id)),
      ).toEqual([]);
      expect(await database.db.select().from(passkeys).where(eq(passkeys.userId, ada.id))).toEqual(
        [],
      );
    });
  });
});
