import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doIssueCallTicket } from "@/lib/call/service";
import { eq } from "drizzle-orm";
import { attachments, rooms } from "@/lib/db/schema";
import { accessAttachmentById } from "@/lib/files/access";
import { queryRoomFiles } from "@/lib/files/queries";
import { callRoster } from "@/lib/realtime/call-handlers";
import { roomParticipants } from "@/lib/realtime/presence";
import { publish } from "@/lib/realtime/publish";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { doCreateRoom, doJoinRoomBySlug, doRemoveMember } from "@/lib/rooms/service";
import { testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";
import {
  ask,
  nextEvent,
  type RealtimeHarness,
  roundTrip,
  startRealtimeServer,
  type TestSocket,
} from "@/test/support/realtime-server";

/**
 * R4 of issue 9: an owner removes a member (`Remove from room`). Whether the member is
 * connected or away, nothing from the room reaches them afterwards — no live events, no
 * activity, no sync, no history, no files, no call ticket — and the room's link does not
 * let them back in.
 */
describe.each(testDbKinds())("removing a member on %s", (kind) => {
  let h: RealtimeHarness;
  let ada: SessionUser;

  beforeAll(async () => {
    h = await startRealtimeServer(kind, { CHAT_RATE_POINTS: "200" });
    ada = await createUser(h.db, "Ada");
  });
  afterAll(async () => {
    await h?.close();
  });

  async function roomWith(member: SessionUser) {
    const { room } = await doCreateRoom(h.db, ada, { kind: "open" });
    await doJoinRoomBySlug(h.db, member, room.slug);
    return room;
  }
  const send = (socket: TestSocket, roomId: string, body: string) =>
    ask(socket, "message.send", { roomId, clientId: crypto.randomUUID(), body });

  /** Every event of the kinds a room sends, collected from `socket`. */
  function collect(socket: TestSocket) {
    const got: string[] = [];
    for (const name of [
      "room.event",
      "room.activity",
      "presence",
      "typing",
      "call.roster",
    ] as const) {
      socket.on(name, (payload: unknown) => got.push(`${name} ${JSON.stringify(payload)}`));
    }
    return got;
  }

  it("lets only the owner remove, never themselves, and only members", async () => {
    const bob = await createUser(h.db, "Bob");
    const cy = await createUser(h.db, "Cy");
    const room = await roomWith(bob);
    await doJoinRoomBySlug(h.db, cy, room.slug);
    await expect(doRemoveMember(h.db, bob, room.id, cy.id)).rejects.toMatchObject({
      code: "forbidden",
    });
    await expect(doRemoveMember(h.db, ada, room.id, ada.id)).rejects.toMatchObject({
      code: "bad_request",
    });
    const stranger = await createUser(h.db, "Stranger");
    await expect(doRemoveMember(h.db, ada, room.id, stranger.id)).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(doRemoveMember(h.db, stranger, room.id, bob.id)).rejects.toMatchObject({
      code: "not_found",
    });
    // Nothing changed: both are still members.
    expect(await accessRoomBySlug(h.db, room.slug, bob.id)).not.toBeNull();
    expect(await accessRoomBySlug(h.db, room.slug, cy.id)).not.toBeNull();
  });

  it("takes a connected member's tabs out of the room at once and tells them", async () => {
    const bob = await createUser(h.db, "Bob");
    const room = await roomWith(bob);
    const a = await h.client(ada);
    const b = await h.client(bob);
    expect((await ask(a, "room.subscribe", { roomId: room.id })).ok).toBe(true);
    expect((await ask(b, "room.subscribe", { roomId: room.id })).ok).toBe(true);
    expect((await ask(b, "rooms.watch", { roomIds: [room.id] })).ok).toBe(true);
    expect((await ask(b, "call.join", { roomId: room.id })).ok).toBe(true);

    const told = nextEvent<{ roomId: string }>(b, "room.removed");
    await publish(h.realtime.io, (await doRemoveMember(h.db, ada, room.id, bob.id)).events);
    expect(await told).toEqual({ roomId: room.id });

    const got = collect(b);
    // Ada sees Bob gone from the room and from its call.
    expect((await roomParticipants(h.realtime.io, room.id)).map((p) => p.userId)).toEqual([ada.id]);
    expect((await callRoster(h.realtime.io, room.id)).participants).toEqual([]);
    expect((await send(a, room.id, "after the removal")).ok).toBe(true);
    expect((await ask(a, "typing.start", { roomId: room.id })).ok).toBe(true);
    // Both went out before Ada's acks: anything for Bob would precede his next answer.
    await roundTrip(b);
    expect(got).toEqual([]);
    // And what Bob's tab asks for is refused.
    expect((await ask(b, "room.subscribe", { roomId: room.id })).error?.code).toBe("not_found");
    expect((await ask(b, "call.join", { roomId: room.id })).error?.code).toBe("not_found");
    a.disconnect();
    b.disconnect();
  });

  it("gives a member removed while away nothing on reconnecting, and refuses the link", async () => {
    const bob = await createGuest(h.db, "Bob");
    const room = await roomWith(bob);
    const a = await h.client(ada);
    await ask(a, "room.subscribe", { roomId: room.id });
    const before = await send(a, room.id, "before");
    expect(before.ok).toBe(true);
    const [attachment] = await h.db
      .insert(attachments)
      .values({
        roomId: room.id,
        uploaderId: bob.id,
        name: "f.txt",
        size: 1,
        mimeType: "text/plain",
        storageKey: "k",
      })
      .returning();
    expect(await accessAttachmentById(h.db, attachment!.id, bob.id)).not.toBeNull();

    // Bob is away (no socket) when Ada removes him; the room goes on.
    await publish(h.realtime.io, (await doRemoveMember(h.db, ada, room.id, bob.id)).events);
    for (let i = 0; i < 5; i++) expect((await send(a, room.id, `while away ${i}`)).ok).toBe(true);

    const b = await h.client(bob);
    const got = collect(b);
    expect((await ask(b, "room.subscribe", { roomId: room.id })).error?.code).toBe("not_found");
    expect((await ask(b, "room.sync", { roomId: room.id, afterSeq: 0 })).error?.code).toBe(
      "not_found",
    );
    expect((await ask(b, "rooms.watch", { roomIds: [room.id] })).data).toEqual({
      watching: 0,
      rooms: [],
    });
    expect((await ask(b, "call.roster", { roomId: room.id })).error?.code).toBe("not_found");
    expect((await ask(b, "call.join", { roomId: room.id })).error?.code).toBe("not_found");
    expect((await send(b, room.id, "let me in")).error?.code).toBe("not_found");
    // History (the messages route's check), files, a call ticket.
    expect(await accessRoomBySlug(h.db, room.slug, bob.id)).toBeNull();
    expect(await queryRoomFiles(h.db, bob, room.slug, null)).toBeNull();
    expect(await accessAttachmentById(h.db, attachment!.id, bob.id)).toBeNull();
    await expect(doIssueCallTicket(bob, room.slug)).rejects.toMatchObject({ code: "not_found" });

    // Ada goes on talking; none of it reaches Bob.
    expect((await send(a, room.id, "after reconnect")).ok).toBe(true);
    await roundTrip(b);
    expect(got).toEqual([]);

    // The open room's link does not let him back in, and nothing is written.
    await expect(doJoinRoomBySlug(h.db, bob, room.slug)).rejects.toMatchObject({
      code: "forbidden",
    });
    expect(await accessRoomBySlug(h.db, room.slug, bob.id)).toBeNull();
    // Others still join by the link.
    const cy = await createUser(h.db, "Cy");
    expect((await doJoinRoomBySlug(h.db, cy, room.slug)).joined).toBe(true);
    a.disconnect();
    b.disconnect();
  });

  it("refuses a removed member a private room's invite link too", async () => {
    const bob = await createUser(h.db, "Bob");
    const { room } = await doCreateRoom(h.db, ada, { kind: "private" });
    const [row] = await h.db.select().from(rooms).where(eq(rooms.id, room.id));
    const invite = row!.inviteToken!;
    await doJoinRoomBySlug(h.db, bob, room.slug, invite);
    await doRemoveMember(h.db, ada, room.id, bob.id);
    await expect(doJoinRoomBySlug(h.db, bob, room.slug, invite)).rejects.toMatchObject({
      code: "forbidden",
    });
  });
});
