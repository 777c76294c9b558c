import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doDeleteMessage, doSendMessage } from "@/lib/chat/service";
import type { Database, Db } from "@/lib/db/client";
import type { RealtimeTransport } from "@/lib/realtime/client";
import { withCallCounts } from "@/lib/realtime/call-handlers";
import { publish } from "@/lib/realtime/publish";
import { RoomListSync } from "@/lib/rooms/list-sync";
import type { RoomActivity, RoomSummary } from "@/lib/rooms/schemas";
import {
  doCreateRoom,
  doJoinRoomBySlug,
  doLeaveRoom,
  doMarkRead,
  doRenameRoom,
  listRoomsForUser,
} from "@/lib/rooms/service";
import { until } from "@/test/support/client-transport";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import {
  ask,
  type RealtimeHarness,
  startRealtimeServer,
  type TestSocket,
} from "@/test/support/realtime-server";

/**
 * The home list (lib/rooms/list-sync.ts) driven over a real socket against the real
 * handlers: its unread counts come from the rooms' seq-ordered activity and a watch that
 * reads after it joins, so no message is missed or counted twice, whatever the timing.
 * The races are made to happen, not hoped for: the server's read of the list is held at a
 * gate while a message commits, and the network loses chosen events.
 */
describe.each(testDbKinds())("the list of rooms on %s", (kind) => {
  let h: RealtimeHarness;
  let gate: ReturnType<typeof selectGate>;
  let ada: SessionUser;
  let bob: SessionUser;
  const limits = { maxMessageLength: 500 };

  beforeAll(async () => {
    const database = await openTestDatabase(kind);
    gate = selectGate(database.db);
    const gated: Database = { ...database, db: gate.db };
    h = await startRealtimeServer(kind, { CHAT_RATE_POINTS: "100" }, { database: gated });
    ada = await createUser(h.db, "Ada");
    bob = await createUser(h.db, "Bob");
  });
  afterAll(async () => {
    await h?.close();
    await h?.database.close();
  });

  /** A room of Ada's that Bob is in, and Bob's list as his home page renders it (from the server). */
  async function setUp() {
    const { room } = await doCreateRoom(h.db, ada, { kind: "open" });
    await doJoinRoomBySlug(h.db, bob, room.slug);
    return {
      roomId: room.id,
      initial: await withCallCounts(h.realtime.io, await listRoomsForUser(h.db, bob.id)),
    };
  }
  const send = (user: SessionUser, roomId: string, body: string) =>
    doSendMessage(h.db, user, { roomId, clientId: crypto.randomUUID(), body }, limits).then(
      async (outcome) => {
        await publish(h.realtime.io, outcome.event ? [outcome.event] : []);
        return outcome.message;
      },
    );
  /** Bob's list on a socket of his own (`lose` picks the activity the network drops). */
  async function bobsList(
    initial: RoomSummary[],
    options: { lose?: (a: RoomActivity) => boolean; start?: boolean } = {},
  ) {
    const socket = await h.client(bob);
    const transport = lossy(socket, options.lose ?? (() => false));
    const list = new RoomListSync(bob.id, initial, () => transport);
    if (options.start !== false) list.start();
    return { list, transport, socket };
  }
  const room = (list: RoomListSync, id: string) => list.rooms().find((r) => r.id === id);
  const unread = (list: RoomListSync, id: string, n: number) =>
    until(list.subscribe, () => room(list, id)?.unreadCount === n, `${n} unread`);

  it("counts a message sent between the page's render and the socket's watch", async () => {
    const { roomId, initial } = await setUp();
    expect(initial.find((r) => r.id === roomId)?.unreadCount).toBe(0);
    // The page rendered; before its socket connected, Ada wrote. No live event reaches Bob.
    await send(ada, roomId, "while you were loading");
    const { list, transport } = await bobsList(initial);
    await unread(list, roomId, 1);
    expect(transport.watches()).toBe(1);
    list.stop();
  });

  it("counts a message that commits while the watch is reading, once", async () => {
    const { roomId, initial } = await setUp();
    const { list, transport } = await bobsList(initial, { start: false });
    // Hold the watch's second query (its read of the list, after it has joined the rooms).
    const held = gate.hold(2);
    list.start();
    await held.reached;
    const message = await send(ada, roomId, "during the watch");
    held.release();
    await unread(list, roomId, 1);
    // The live event arrived before the answer that already counted it: it is not counted again.
    await transport.roundTrip();
    expect(room(list, roomId)).toMatchObject({ unreadCount: 1, lastSeq: message.seq });
    // Known to be in the answer by its seq, it is no gap either: no second watch.
    expect(transport.watches()).toBe(1);
    list.stop();
  });

  it("applies live activity in seq order: others' messages count, yours and deletions not", async () => {
    const { roomId, initial } = await setUp();
    const { list, transport } = await bobsList(initial);
    await until(list.subscribe, () => transport.watches() === 1 && !transport.pending(), "watched");
    const first = await send(ada, roomId, "one");
    await send(ada, roomId, "two");
    await unread(list, roomId, 2);
    await send(bob, roomId, "mine");
    await doDeleteMessage(h.db, ada, { roomId, messageId: first.id }).then((o) =>
      publish(h.realtime.io, o.event ? [o.event] : []),
    );
    await unread(list, roomId, 1);
    const renamed = await doRenameRoom(h.db, ada, roomId, "Renamed");
    await publish(h.realtime.io, renamed.events);
    await until(list.subscribe, () => room(list, roomId)?.name === "Renamed", "renamed");
    // All of it live: one watch, at the start.
    expect(transport.watches()).toBe(1);
    const stored = (await listRoomsForUser(h.db, bob.id)).find((r) => r.id === roomId);
    expect(room(list, roomId)).toEqual({ ...stored, callCount: 0 });
    list.stop();
  });

  it("notices a lost event at the next one and catches up", async () => {
    const { roomId, initial } = await setUp();
    let lost = 0;
    const { list, transport } = await bobsList(initial, {
      lose: (a) => a.type === "message.created" && lost++ === 0,
    });
    await until(list.subscribe, () => transport.watches() === 1 && !transport.pending(), "watched");
    await send(ada, roomId, "lost on the way");
    await transport.roundTrip();
    expect(room(list, roomId)?.unreadCount).toBe(0);
    await send(ada, roomId, "arrives");
    await unread(list, roomId, 2);
    expect(transport.watches()).toBe(2);
    list.stop();
  });

  it("follows your read position from another device, and re-watches when the list moved on", async () => {
    const { roomId, initial } = await setUp();
    const { list, transport } = await bobsList(initial);
    await until(list.subscribe, () => transport.watches() === 1 && !transport.pending(), "watched");
    const message = await send(ada, roomId, "read me");
    await unread(list, roomId, 1);
    // Bob reads it on his phone: the count is the one the read answered.
    await publish(h.realtime.io, (await doMarkRead(h.db, bob.id, roomId, message.seq)).events);
    await unread(list, roomId, 0);
    expect(transport.watches()).toBe(1);
    // A read counted at a seq this list has not reached yet (its event was lost): re-watch.
    const later = await doSendMessage(
      h.db,
      ada,
      { roomId, clientId: crypto.randomUUID(), body: "unseen" },
      limits,
    );
    await publish(h.realtime.io, (await doMarkRead(h.db, bob.id, roomId, 0)).events);
    await until(
      list.subscribe,
      () => room(list, roomId)?.lastSeq === later.message.seq,
      "caught up",
    );
    expect(room(list, roomId)?.unreadCount).toBe(1);
    expect(transport.watches()).toBe(2);
    list.stop();
  });

  it("marks a call in progress: in the watch's answer, then live from the roster", async () => {
    const { roomId, initial } = await setUp();
    const ada1 = await h.client(ada);
    // A call already going when the list watches is in the answer.
    expect((await ask(ada1, "call.join", { roomId })).ok).toBe(true);
    const { list, transport } = await bobsList(initial);
    expect(room(list, roomId)?.callCount).toBe(0);
    await until(list.subscribe, () => room(list, roomId)?.callCount === 1, "call in the answer");
    // Then each change of the call, live: two tabs of one person count once; a second person.
    const ada2 = await h.client(ada);
    expect((await ask(ada2, "call.join", { roomId })).ok).toBe(true);
    const bob1 = await h.client(bob);
    expect((await ask(bob1, "call.join", { roomId })).ok).toBe(true);
    await until(list.subscribe, () => room(list, roomId)?.callCount === 2, "two people");
    await ask(bob1, "call.leave", { roomId });
    ada1.disconnect();
    await ask(ada2, "call.leave", { roomId });
    await until(list.subscribe, () => room(list, roomId)?.callCount === 0, "call over");
    expect(transport.watches()).toBe(1);
    list.stop();
  });

  it("takes in a room joined and drops a room left elsewhere", async () => {
    const { roomId, initial } = await setUp();
    const { list, transport } = await bobsList(initial);
    await until(list.subscribe, () => transport.watches() === 1 && !transport.pending(), "watched");
    const { room: other } = await doCreateRoom(h.db, ada, { kind: "open" });
    await publish(h.realtime.io, (await doJoinRoomBySlug(h.db, bob, other.slug)).events);
    await until(list.subscribe, () => !!room(list, other.id), "joined room listed");
    await publish(h.realtime.io, (await doLeaveRoom(h.db, bob, roomId)).events);
    await until(list.subscribe, () => !room(list, roomId), "left room gone");
    // Nothing of the room left reaches the list any more.
    await send(ada, roomId, "after you left");
    await transport.roundTrip();
    expect(room(list, roomId)).toBeUndefined();
    list.stop();
  });
});

/**
 * The socket as RoomListSync sees it, counting its watches, and losing the `room.activity`
 * events `lose` picks, as a network might.
 */
function lossy(socket: TestSocket, lose: (a: RoomActivity) => boolean) {
  type Listener = (...args: unknown[]) => void;
  const wrapped = new Map<Listener, Listener>();
  const raw = socket as unknown as {
    on(event: string, l: Listener): void;
    off(event: string, l: Listener): void;
  };
  let watches = 0;
  let inFlight = 0;
  const transport = {
    get connected() {
      return socket.connected;
    },
    on(event: string, listener: Listener) {
      const actual: Listener =
        event === "room.activity"
          ? (a) => {
              if (!lose(a as RoomActivity)) listener(a);
            }
          : listener;
      wrapped.set(listener, actual);
      raw.on(event, actual);
    },
    off(event: string, listener: Listener) {
      raw.off(event, wrapped.get(listener) ?? listener);
    },
    timeout(ms: number) {
      return {
        emitWithAck: async (name: string, payload: unknown) => {
          if (name === "rooms.watch") watches++;
          inFlight++;
          try {
            return await (
              socket.timeout(ms).emitWithAck as (n: string, p: unknown) => Promise<unknown>
            )(name, payload);
          } finally {
            inFlight--;
          }
        },
      };
    },
    watches: () => watches,
    pending: () => inFlight > 0,
    /** Everything the server sent before now has arrived (lib/realtime/command.ts answers at once). */
    roundTrip: async () => {
      await (socket.timeout(5000).emitWithAck as (n: string, p: unknown) => Promise<unknown>)(
        "test.round-trip",
        null,
      );
    },
  };
  return transport as typeof transport & RealtimeTransport;
}

/**
 * The database handle with a gate on its `select`s: `hold(n)` stops the n-th select from
 * now just before it runs, until released. What the server does meanwhile (other sockets'
 * sends, which are prepared statements) goes on.
 */
function selectGate(db: Db) {
  let plan: { n: number; reached: () => void; released: Promise<void> } | null = null;
  const delayed = <T extends object>(target: T, wait: Promise<void>): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value: unknown = Reflect.get(t, prop, receiver);
        if (typeof value !== "function") return value;
        if (prop === "then") {
          return (ok: (v: unknown) => unknown, fail: (e: unknown) => unknown) =>
            wait.then(() => (value as (...a: unknown[]) => unknown).call(t, ok, fail));
        }
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(t, args);
          return result && typeof result === "object" ? delayed(result, wait) : result;
        };
      },
    });
  const gated = new Proxy(db, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== "select" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const builder = (value as (...a: unknown[]) => object).apply(target, args);
        if (!plan || --plan.n > 0) return builder;
        const { reached, released } = plan;
        plan = null;
        reached();
        return delayed(builder, released);
      };
    },
  });
  return {
    db: gated,
    hold(n: number) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const released = new Promise<void>((r) => (release = r));
      plan = { n, reached, released };
      return { reached: reachedP, release };
    },
  };
}
