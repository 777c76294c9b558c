import { isDeepStrictEqual } from "node:util";
import { QueryClient } from "@tanstack/react-query";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { flattenPages, type MessagePages, windowOf } from "@/lib/chat/cache";
import { chatKeys } from "@/lib/chat/client/keys";
import { MemoryOutboxStore, Outbox } from "@/lib/chat/client/outbox";
import { RoomSync } from "@/lib/chat/client/room-sync";
import { OutboxSender } from "@/lib/chat/client/sender";
import type { MessageView, RoomEvent, SyncPage } from "@/lib/chat/schemas";
import { loadHistoryAround, loadHistoryPage } from "@/lib/chat/views";
import type { RealtimeTransport } from "@/lib/realtime/client";
import type { Participant } from "@/lib/realtime/protocol";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { observedTransport, until } from "@/test/support/client-transport";
import { testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";
import type { ReadPosition } from "@/lib/rooms/schemas";
import {
  ask,
  nextEvent,
  type RealtimeHarness,
  roundTrip,
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
  const roomLastSeq = async () => (await loadHistoryPage(h.db, roomId, { limit: 1 })).lastSeq;

  /** A page's message cache, seeded with the newest history page as the room page seeds it. */
  async function seededCache() {
    const queryClient = new QueryClient();
    const history = await loadHistoryPage(h.db, roomId, { limit: 50 });
    queryClient.setQueryData<MessagePages>(chatKeys.messages(roomId), {
      pages: [history],
      pageParams: [{}],
    });
    const messages = () =>
      flattenPages(queryClient.getQueryData<MessagePages>(chatKeys.messages(roomId)));
    /** Resolves once the cache's newest messages equal the server's (a fresh fetch). */
    const equalsServer = async (what: string) => {
      let fresh = await loadHistoryPage(h.db, roomId, { limit: 50 });
      await until(
        (listener) => queryClient.getQueryCache().subscribe(listener),
        () => isDeepStrictEqual(messages().slice(-fresh.messages.length), fresh.messages),
        what,
      ).catch(async (err: unknown) => {
        fresh = await loadHistoryPage(h.db, roomId, { limit: 50 });
        expect(messages().slice(-fresh.messages.length)).toEqual(fresh.messages);
        throw err;
      });
    };
    return { queryClient, history, messages, equalsServer };
  }

  /**
   * A room page of `user`: the real RoomSync over a real socket (wrapped to record its
   * commands, and to lose the live events `dropEvent` picks), subscribed and caught up.
   */
  async function openRoomPage(
    user: SessionUser,
    options: { dropEvent?: (event: RoomEvent) => boolean } = {},
  ) {
    const socket = await h.client(user);
    const transport = observedTransport(socket, options);
    const cache = await seededCache();
    const errors: (string | null)[] = [];
    let subscribed!: () => void;
    const presence = new Promise<void>((resolve) => (subscribed = resolve));
    const sync = new RoomSync(
      cache.queryClient,
      roomId,
      {
        onPresence: () => subscribed(),
        onTyping: () => undefined,
        onRenamed: () => undefined,
        onError: (message) => errors.push(message),
      },
      transport,
    );
    sync.start();
    sync.setBaseline(cache.history.lastSeq);
    await presence;
    await sync.catchUp();
    /** The seqs of every event `room.sync` answered with, from the `from`th command on. */
    const syncedSeqs = (from = 0) =>
      transport.sent
        .slice(from)
        .filter((c) => c.name === "room.sync")
        .flatMap((c) => (c.answer as { data: SyncPage }).data.events.map((e) => e.seq));
    return { socket, transport, sync, errors, syncedSeqs, ...cache };
  }

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
    expect((await send(a, "secret")).ok).toBe(true);
    // The event went out before Ada's ack; had it been sent to Eve, it would be ahead of
    // the answer to her next command on the same connection.
    await roundTrip(e);
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

  it("keeps a page's cache equal to the server's log as events arrive live", async () => {
    const bobPage = await openRoomPage(bob);
    const a = await h.client(ada);
    const sent = (await send(a, "live one")).data as MessageView;
    expect(
      (await ask(a, "message.edit", { roomId, messageId: sent.id, body: "live, edited" })).ok,
    ).toBe(true);
    expect(
      (await ask(a, "reaction.set", { roomId, messageId: sent.id, emoji: "👍", on: true })).ok,
    ).toBe(true);
    await bobPage.equalsServer("Bob's cache has the message, its edit and its reaction");
    expect(bobPage.messages().at(-1)).toMatchObject({
      body: "live, edited",
      reactions: [{ emoji: "👍" }],
    });
    // In order, each applied as it came: no catch-up was needed.
    expect(bobPage.syncedSeqs()).toEqual([]);
    expect(bobPage.errors.filter(Boolean)).toEqual([]);
    bobPage.sync.stop();
    a.disconnect();
    bobPage.socket.disconnect();
  });

  it("notices a gap from a live event's seq and fetches what it missed", async () => {
    const base = await roomLastSeq();
    // The network loses the first of Ada's two events on its way to Bob.
    const bobPage = await openRoomPage(bob, { dropEvent: (e) => e.seq === base + 1 });
    const before = bobPage.transport.sent.length;
    const a = await h.client(ada);
    expect((await send(a, "lost on the way")).ok).toBe(true);
    expect((await send(a, "arrives")).ok).toBe(true);
    await bobPage.equalsServer("Bob's cache has both messages");
    expect(
      bobPage
        .messages()
        .slice(-2)
        .map((m) => m.body),
    ).toEqual(["lost on the way", "arrives"]);
    // Seeing base+2 after base, RoomSync asked for everything after base, once.
    const syncs = bobPage.transport.sent.slice(before).filter((c) => c.name === "room.sync");
    expect(syncs.map((c) => c.payload)).toEqual([{ roomId, afterSeq: base }]);
    expect(bobPage.syncedSeqs(before)).toEqual([base + 1, base + 2]);
    bobPage.sync.stop();
    a.disconnect();
    bobPage.socket.disconnect();
  });

  it("a window away from the live end leaves new messages out; once it reaches the end, it holds them all", async () => {
    const a = await h.client(ada);
    const sent: MessageView[] = [];
    for (let i = 0; i < 8; i++) sent.push((await send(a, `old ${i}`)).data as MessageView);
    const bobPage = await openRoomPage(bob);
    const key = chatKeys.messages(roomId);
    // Opened at an old message: a window around it, not reaching the live end.
    const around = await loadHistoryAround(h.db, roomId, sent[2]!.seq, { limit: 4 });
    expect(around.hasNewer).toBe(true);
    bobPage.queryClient.setQueryData<MessagePages>(key, windowOf(around, { around: sent[2]!.seq }));
    bobPage.sync.setBaseline(around.lastSeq);

    // Something arrives live: applied to the log position, left out of the window.
    const news = (await send(a, "news")).data as MessageView;
    await vi.waitFor(() => expect(bobPage.sync.appliedSeq).toBe(news.seq));
    expect(bobPage.messages().map((m) => m.body)).toEqual(around.messages.map((m) => m.body));

    // Paging newer reaches the live end; one more message lands between that page's read
    // and its arrival in the cache, and is left out too...
    const newer = await loadHistoryPage(h.db, roomId, {
      after: around.messages.at(-1)!.seq,
      limit: 50,
    });
    expect(newer.hasNewer).toBe(false);
    const late = (await send(a, "late")).data as MessageView;
    await vi.waitFor(() => expect(bobPage.sync.appliedSeq).toBe(late.seq));
    bobPage.queryClient.setQueryData<MessagePages>(key, (data) => ({
      pages: [newer, ...data!.pages],
      pageParams: [{ after: around.messages.at(-1)!.seq }, ...data!.pageParams],
    }));
    expect(bobPage.messages().map((m) => m.body)).not.toContain("late");
    // ...until the window, now live, is rebased on that page: then it holds everything.
    bobPage.sync.setBaseline(newer.lastSeq);
    // Equal to a fresh read of everything from the window's first message on.
    await vi.waitFor(async () => {
      const fresh = await loadHistoryPage(h.db, roomId, {
        after: around.messages[0]!.seq - 1,
        limit: 200,
      });
      expect(bobPage.messages()).toEqual(fresh.messages);
    });
    expect(
      bobPage
        .messages()
        .slice(-2)
        .map((m) => m.body),
    ).toEqual(["news", "late"]);
    bobPage.sync.stop();
    a.disconnect();
    bobPage.socket.disconnect();
  });

  it("catches a reconnecting page up: every missed change once, in order, cache == fresh fetch", async () => {
    const a = await h.client(ada);
    const old = (await send(a, "written before Bob left")).data as MessageView;
    const bobPage = await openRoomPage(bob);
    const base = bobPage.history.lastSeq;
    bobPage.socket.disconnect();
    const before = bobPage.transport.sent.length;

    // While Bob is away: new messages, an edit and a reaction on an old message, a delete.
    const sent: MessageView[] = [];
    for (let i = 0; i < 5; i++) sent.push((await send(a, `missed ${i}`)).data as MessageView);
    expect(
      (await ask(a, "message.edit", { roomId, messageId: old.id, body: "edited while away" })).ok,
    ).toBe(true);
    expect(
      (await ask(a, "reaction.set", { roomId, messageId: sent[0]!.id, emoji: "🎉", on: true })).ok,
    ).toBe(true);
    expect((await ask(a, "message.delete", { roomId, messageId: sent[1]!.id })).ok).toBe(true);
    a.disconnect();

    // Back: RoomSync re-subscribes on `connect` and syncs from its lastSeq.
    bobPage.socket.connect();
    await bobPage.equalsServer("Bob's cache caught up");
    expect(bobPage.transport.sent.slice(before).map((c) => c.name)).toEqual([
      "room.subscribe",
      "room.sync",
    ]);
    expect(bobPage.syncedSeqs(before)).toEqual(Array.from({ length: 8 }, (_, i) => base + 1 + i));
    expect(bobPage.messages().find((m) => m.id === old.id)?.body).toBe("edited while away");
    bobPage.sync.stop();
    bobPage.socket.disconnect();
  });

  /** An outbox sender for `user` over `transport`, on a memory store, with a seeded cache. */
  async function openSender(user: SessionUser, transport: RealtimeTransport) {
    const outbox = new Outbox(new MemoryOutboxStore());
    await outbox.loaded;
    const cache = await seededCache();
    const sender = new OutboxSender(cache.queryClient, user.id, { outbox, transport });
    const release = sender.start();
    const emptied = (what: string) =>
      until(
        (listener) => outbox.subscribe(listener),
        () => outbox.pending(user.id).length === 0,
        what,
      );
    return { outbox, sender, release, emptied, ...cache };
  }

  it("sends what was written offline once connected: each message once, in order", async () => {
    const socket = await h.client(ada, { autoConnect: false });
    const transport = observedTransport(socket);
    const page = await openSender(ada, transport);
    const base = await roomLastSeq();
    const bodies = ["written offline 1", "written offline 2", "written offline 3"];
    for (const body of bodies)
      await page.sender.send({ clientId: crypto.randomUUID(), roomId, body });
    expect(page.outbox.pending(ada.id).map((i) => i.body)).toEqual(bodies);
    expect(transport.sent).toEqual([]);

    socket.connect();
    await page.emptied("the outbox is sent");
    const sends = transport.sent.filter((c) => c.name === "message.send");
    expect(sends.map((c) => (c.payload as { body: string }).body)).toEqual(bodies);
    const history = await loadHistoryPage(h.db, roomId, { limit: 3 });
    expect(history.lastSeq).toBe(base + 3);
    expect(history.messages.map((m) => [m.seq, m.body])).toEqual(
      bodies.map((b, i) => [base + 1 + i, b]),
    );
    // The acks went into the page's cache too.
    expect(page.messages().slice(-3)).toEqual(history.messages);
    page.release();
    socket.disconnect();
  });

  it("sends a message again when its answer was lost, and the server stores it once", async () => {
    const socket = await h.client(ada);
    const observed = observedTransport(socket);
    // The first send's answer is lost: the connection drops as it comes back.
    let cut = false;
    const transport: RealtimeTransport = {
      get connected() {
        return observed.connected;
      },
      on: observed.on,
      off: observed.off,
      timeout: (ms) => ({
        emitWithAck: async (name, payload) => {
          const answer = await observed.timeout(ms).emitWithAck(name, payload);
          if (name === "message.send" && !cut) {
            cut = true;
            socket.disconnect();
            throw new Error("socket has been disconnected");
          }
          return answer;
        },
      }),
    };
    const b = await h.client(bob);
    await ask(b, "room.subscribe", { roomId });
    const page = await openSender(ada, transport);
    const base = await roomLastSeq();
    const clientId = crypto.randomUUID();
    const stored = nextEvent<RoomEvent>(b, "room.event", (e) => e.seq === base + 1);
    const dropped = new Promise((resolve) => socket.once("disconnect", resolve));
    await page.sender.send({ clientId, roomId, body: "the ack was lost" });
    // The server stored it; Ada's page does not know, and keeps it pending.
    expect(await stored).toMatchObject({ type: "message.created", message: { clientId } });
    await dropped;
    expect(page.outbox.pending(ada.id).map((i) => i.clientId)).toEqual([clientId]);

    socket.connect();
    await page.emptied("the retry is acknowledged");
    const sends = observed.sent.filter((c) => c.name === "message.send");
    expect(sends.map((c) => (c.payload as { clientId: string }).clientId)).toEqual([
      clientId,
      clientId,
    ]);
    expect(sends[1]!.answer).toMatchObject({ ok: true, data: { clientId, seq: base + 1 } });
    // Stored once, and the retry took no seq (so no event either).
    const history = await loadHistoryPage(h.db, roomId, { limit: 5 });
    expect(history.lastSeq).toBe(base + 1);
    expect(history.messages.filter((m) => m.clientId === clientId)).toHaveLength(1);
    expect(page.messages().filter((m) => m.clientId === clientId)).toHaveLength(1);
    page.release();
    socket.disconnect();
    b.disconnect();
  });

  it("marks a refused message failed with the reason; Retry sends it again", async () => {
    const socket = await h.client(ada);
    const transport = observedTransport(socket);
    const page = await openSender(ada, transport);
    const base = await roomLastSeq();
    const clientId = crypto.randomUUID();
    const sends = () => transport.sent.filter((c) => c.name === "message.send");
    const failedAfter = (attempts: number) =>
      until(
        (listener) => page.outbox.subscribe(listener),
        () => sends().length === attempts && page.outbox.list(roomId)[0]?.status === "failed",
        `the message is marked failed after ${attempts} attempt(s)`,
      );
    await page.sender.send({ clientId, roomId, body: "x".repeat(501) });
    await failedAfter(1);
    expect(page.outbox.list(roomId)).toMatchObject([
      { clientId, status: "failed", error: expect.stringMatching(/at most 500 characters/) },
    ]);
    // Failed is not pending: no flush (a reconnect's included) sends it until Retry.
    expect(page.outbox.pending(ada.id)).toEqual([]);
    await page.sender.retry(clientId);
    await failedAfter(2);
    expect(await roomLastSeq()).toBe(base);
    await page.sender.discard(clientId);
    expect(page.outbox.list(roomId)).toEqual([]);
    page.release();
    socket.disconnect();
  });

  it("rate-limits each user with a clear error", async () => {
    const limited = await startRealtimeServer(kind, {
      CHAT_RATE_POINTS: "3",
      CHAT_RATE_WINDOW_S: "60",
    });
    try {
      const user = await createUser(limited.db, "Fast");
      const room = await doCreateRoom(limited.db, user, { kind: "open" });
      const s = await limited.client(user);
      const results = [];
      for (let i = 0; i < 4; i++) {
        results.push(
          await ask(s, "message.send", {
            roomId: room.room.id,
            clientId: crypto.randomUUID(),
            body: `m${i}`,
          }),
        );
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
    const both = nextEvent<{ participants: Participant[] }>(
      b,
      "presence",
      (p) => p.participants.length === 2,
    );
    await ask(b, "room.subscribe", { roomId });
    expect((await both).participants.map((p) => p.displayName)).toEqual(["Ada", "Bob"]);

    // Closing one of Ada's tabs keeps her present; closing the other removes her.
    const stillThere = nextEvent<{ participants: Participant[] }>(b, "presence");
    a1.disconnect();
    expect((await stillThere).participants.map((p) => p.displayName)).toEqual(["Ada", "Bob"]);
    const gone = nextEvent<{ participants: Participant[] }>(
      b,
      "presence",
      (p) => p.participants.length === 1,
    );
    a2.disconnect();
    expect((await gone).participants.map((p) => p.displayName)).toEqual(["Bob"]);

    const a3 = await h.client(ada);
    await ask(a3, "room.subscribe", { roomId });
    let echoed = false;
    a3.on("typing", () => (echoed = true));
    const typing = nextEvent<{ displayName: string }>(b, "typing");
    await ask(a3, "typing.start", { roomId });
    expect((await typing).displayName).toBe("Ada");
    // An echo would have been sent to Ada before the answer to her next command.
    await roundTrip(a3);
    expect(echoed).toBe(false);
    a3.disconnect();
    b.disconnect();
  });

  it("syncs the read position to the user's other devices and never moves it back", async () => {
    const phone = await h.client(bob);
    const laptop = await h.client(bob);
    const { lastSeq } = await loadHistoryPage(h.db, roomId, { limit: 1 });
    const update = nextEvent<ReadPosition>(laptop, "read.updated");
    // Where it is now, and the room's unread count for Bob as of the room's last seq.
    const position = { roomId, lastReadSeq: lastSeq, seq: lastSeq, unreadCount: 0 };
    expect((await ask(phone, "read.mark", { roomId, seq: lastSeq })).data).toEqual(position);
    expect(await update).toEqual(position);
    expect((await ask(phone, "read.mark", { roomId, seq: 1 })).data).toEqual(position);
    expect((await ask(phone, "read.mark", { roomId, seq: lastSeq + 1000 })).data).toEqual(position);
    phone.disconnect();
    laptop.disconnect();
  });
});
