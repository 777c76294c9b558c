import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { applyEvents, flattenPages, type MessagePages } from "@/lib/chat/cache";
import type { MessageView, RoomEvent, SyncPage } from "@/lib/chat/schemas";
import { loadHistoryPage } from "@/lib/chat/views";
import type { Participant } from "@/lib/realtime/protocol";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";
import {
  ask,
  nextEvent,
  type RealtimeHarness,
  startRealtimeServer,
  type TestSocket,
} from "@/test/support/realtime-server";

describe.each(testDbKinds())("realtime chat on %s", (kind) => {
  let h: RealtimeHarness;
  let ada: SessionUser;
  let bob: SessionUser;
  let eve: SessionUser;
  let roomId: string;

  beforeAll(async () => {
    h = await startRealtimeServer(kind, {
      CHAT_MAX_MESSAGE_LENGTH: "500",
      CHAT_RATE_POINTS: "40",
      CHAT_RATE_WINDOW_S: "60",
    });
    ada = await createUser(h.db, "Ada");
    bob = await createUser(h.db, "Bob");
    eve = await createGuest(h.db, "Eve");
    const access = await doCreateRoom(h.db, ada, { kind: "open" });
    roomId = access.room.id;
    await doJoinRoomBySlug(h.db, bob, access.room.slug);
  });
  afterAll(async () => {
    await h?.close();
  });

  const send = (socket: TestSocket, body: string, clientId: string = crypto.randomUUID()) =>
    ask(socket, "message.send", { roomId, clientId, body });

  it("refuses a handshake without a valid session", async () => {
    await expect(h.client(null)).rejects.toThrow("unauthorized");
    await expect(h.client(null, { cookie: "next-auth.session-token=forged" })).rejects.toThrow(
      "unauthorized",
    );
  });

  it("refuses a handshake from a foreign origin", async () => {
    await expect(h.client(ada, { origin: "https://evil.example" })).rejects.toThrow();
  });

  it("acks after commit, then delivers the event to every subscriber, sender included", async () => {
    const a = await h.client(ada);
    const b = await h.client(bob);
    expect((await ask(a, "room.subscribe", { roomId })).ok).toBe(true);
    expect((await ask(b, "room.subscribe", { roomId })).ok).toBe(true);
    const atBob = nextEvent<RoomEvent>(b, "room.event");
    const atAda = nextEvent<RoomEvent>(a, "room.event");
    const ack = await send(a, "hello bob");
    expect(ack.ok).toBe(true);
    const message = ack.data as MessageView;
    const [eb, ea] = await Promise.all([atBob, atAda]);
    expect(eb).toMatchObject({ type: "message.created", seq: message.seq });
    expect(ea.seq).toBe(message.seq);
    if (eb.type === "room.renamed") throw new Error("unexpected");
    expect(eb.message.body).toBe("hello bob");
    a.disconnect();
    b.disconnect();
  });

  it("gives outsiders nothing: no subscribe, no sync, no send, no events", async () => {
    const e = await h.client(eve);
    const received: unknown[] = [];
    e.on("room.event", (ev) => received.push(ev));
    for (const [name, payload] of [
      ["room.subscribe", { roomId }],
      ["room.sync", { roomId, afterSeq: 0 }],
      ["message.send", { roomId, clientId: crypto.randomUUID(), body: "hi" }],
    ] as const) {
      const result = await ask(e, name, payload);
      expect(result).toMatchObject({ ok: false, error: { code: "not_found" } });
    }
    const a = await h.client(ada);
    await ask(a, "room.subscribe", { roomId });
    await send(a, "secret");
    await new Promise((r) => setTimeout(r, 200));
    expect(received).toEqual([]);
    a.disconnect();
    e.disconnect();
  });

  it("answers malformed commands with an error ack and keeps serving", async () => {
    const a = await h.client(ada);
    const bad = [
      ["message.send", null],
      ["message.send", { roomId: "not-a-uuid", clientId: crypto.randomUUID(), body: "x" }],
      ["message.send", { roomId, clientId: "nope", body: "x" }],
      ["message.send", { roomId, clientId: crypto.randomUUID(), body: 42 }],
      ["reaction.set", { roomId, messageId: crypto.randomUUID(), emoji: "<script>", on: true }],
      ["room.sync", { roomId, afterSeq: -1 }],
    ] as const;
    for (const [name, payload] of bad) {
      const result = await ask(a, name, payload);
      expect(result.ok, `${name} ${JSON.stringify(payload)}`).toBe(false);
      expect(result.error?.code).toBe("bad_request");
    }
    expect((await send(a, "still fine")).ok).toBe(true);
    a.disconnect();
  });

  it("refuses a message over the length limit with a clear error and stores nothing", async () => {
    const a = await h.client(ada);
    const before = (await loadHistoryPage(h.db, roomId, { limit: 1 })).lastSeq;
    const result = await send(a, "x".repeat(501));
    expect(result).toMatchObject({ ok: false, error: { code: "too_large" } });
    expect(result.error?.message).toMatch(/at most 500 characters/);
    expect((await loadHistoryPage(h.db, roomId, { limit: 1 })).lastSeq).toBe(before);
    a.disconnect();
  });

  it("disconnects a client that sends a command without an ack, or an oversized frame", async () => {
    const a = await h.client(ada);
    const closed = new Promise((resolve) => a.once("disconnect", resolve));
    (a.emit as (n: string, p: unknown) => void)("message.send", { roomId });
    await closed;

    const b = await h.client(ada);
    const closedToo = new Promise((resolve) => b.once("disconnect", resolve));
    void send(b, "y".repeat(600 * 1024)).catch(() => undefined);
    await closedToo;

    const c = await h.client(ada);
    expect((await send(c, "the server is fine")).ok).toBe(true);
    c.disconnect();
  });

  it("catches a reconnecting client up in order, and its cache equals a fresh fetch", async () => {
    const b = await h.client(bob);
    await ask(b, "room.subscribe", { roomId });
    const page = await loadHistoryPage(h.db, roomId, { limit: 50 });
    let cache: MessagePages = { pages: [page], pageParams: [undefined] };
    let lastSeq = page.lastSeq;
    b.disconnect();

    // While Bob is away: new messages, an edit and a reaction on an old message, a delete.
    const a = await h.client(ada);
    const sent: MessageView[] = [];
    for (let i = 0; i < 5; i++) sent.push((await send(a, `missed ${i}`)).data as MessageView);
    const old = page.messages.find((m) => m.author.id === ada.id && !m.deletedAt)!;
    expect((await ask(a, "message.edit", { roomId, messageId: old.id, body: "edited while away" })).ok).toBe(true);
    expect((await ask(a, "reaction.set", { roomId, messageId: sent[0]!.id, emoji: "🎉", on: true })).ok).toBe(true);
    expect((await ask(a, "message.delete", { roomId, messageId: sent[1]!.id })).ok).toBe(true);
    a.disconnect();

    const b2 = await h.client(bob);
    await ask(b2, "room.subscribe", { roomId });
    const seen: number[] = [];
    for (;;) {
      const result = await ask(b2, "room.sync", { roomId, afterSeq: lastSeq });
      const sync = result.data as SyncPage;
      seen.push(...sync.events.map((e) => e.seq));
      cache = applyEvents(cache, sync.events);
      lastSeq = sync.throughSeq;
      if (!sync.hasMore) break;
    }
    // Every missed seq exactly once, in order.
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => page.lastSeq + 1 + i));
    expect(seen).toHaveLength(8);
    const fresh = await loadHistoryPage(h.db, roomId, { limit: 50 });
    expect(flattenPages(cache).slice(-fresh.messages.length)).toEqual(fresh.messages);
    b2.disconnect();
  });

  it("detects a gap from a live event's seq", async () => {
    const b = await h.client(bob);
    await ask(b, "room.subscribe", { roomId });
    const { lastSeq } = await loadHistoryPage(h.db, roomId, { limit: 1 });
    const a = await h.client(ada);
    await send(a, "one");
    const second = nextEvent<RoomEvent>(b, "room.event", (e) => e.seq === lastSeq + 2);
    await send(a, "two");
    // A client that only saw the second event knows seq lastSeq+1 is missing and asks for it.
    const event = await second;
    expect(event.seq).toBeGreaterThan(lastSeq + 1);
    const gap = (await ask(b, "room.sync", { roomId, afterSeq: lastSeq })).data as SyncPage;
    expect(gap.events.map((e) => e.seq)).toEqual([lastSeq + 1, lastSeq + 2]);
    a.disconnect();
    b.disconnect();
  });

  it("rate-limits each user with a clear error", async () => {
    const limited = await startRealtimeServer(kind, { CHAT_RATE_POINTS: "3", CHAT_RATE_WINDOW_S: "60" });
    try {
      const user = await createUser(limited.db, "Fast");
      const room = await doCreateRoom(limited.db, user, { kind: "open" });
      const s = await limited.client(user);
      const results = [];
      for (let i = 0; i < 4; i++) {
        results.push(await ask(s, "message.send", { roomId: room.room.id, clientId: crypto.randomUUID(), body: `m${i}` }));
      }
      expect(results.slice(0, 3).every((r) => r.ok)).toBe(true);
      expect(results[3]).toMatchObject({ ok: false, error: { code: "rate_limited" } });
      expect(results[3]!.error!.message).toMatch(/too fast/);
      const history = await loadHistoryPage(limited.db, room.room.id, { limit: 10 });
      expect(history.messages).toHaveLength(3);
    } finally {
      await limited.close();
    }
  });

  it("keeps presence across tabs and relays typing to others only", async () => {
    const a1 = await h.client(ada);
    const a2 = await h.client(ada);
    const b = await h.client(bob);
    await ask(a1, "room.subscribe", { roomId });
    await ask(a2, "room.subscribe", { roomId });
    const both = nextEvent<{ participants: Participant[] }>(b, "presence", (p) => p.participants.length === 2);
    await ask(b, "room.subscribe", { roomId });
    expect((await both).participants.map((p) => p.displayName)).toEqual(["Ada", "Bob"]);

    // Closing one of Ada's tabs keeps her present; closing the other removes her.
    a1.disconnect();
    await new Promise((r) => setTimeout(r, 150));
    const gone = nextEvent<{ participants: Participant[] }>(b, "presence", (p) => p.participants.length === 1);
    a2.disconnect();
    expect((await gone).participants.map((p) => p.displayName)).toEqual(["Bob"]);

    const a3 = await h.client(ada);
    await ask(a3, "room.subscribe", { roomId });
    let echoed = false;
    a3.on("typing", () => (echoed = true));
    const typing = nextEvent<{ displayName: string }>(b, "typing");
    await ask(a3, "typing.start", { roomId });
    expect((await typing).displayName).toBe("Ada");
    await new Promise((r) => setTimeout(r, 100));
    expect(echoed).toBe(false);
    a3.disconnect();
    b.disconnect();
  });

  it("syncs the read position to the user's other devices and never moves it back", async () => {
    const phone = await h.client(bob);
    const laptop = await h.client(bob);
    const { lastSeq } = await loadHistoryPage(h.db, roomId, { limit: 1 });
    const update = nextEvent<{ roomId: string; lastReadSeq: number }>(laptop, "read.updated");
    expect((await ask(phone, "read.mark", { roomId, seq: lastSeq })).data).toEqual({ lastReadSeq: lastSeq });
    expect(await update).toEqual({ roomId, lastReadSeq: lastSeq });
    expect((await ask(phone, "read.mark", { roomId, seq: 1 })).data).toEqual({ lastReadSeq: lastSeq });
    expect((await ask(phone, "read.mark", { roomId, seq: lastSeq + 1000 })).data).toEqual({ lastReadSeq: lastSeq });
    phone.disconnect();
    laptop.disconnect();
  });
});
