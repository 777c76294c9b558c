import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { RoomEvent } from "@/lib/chat/schemas";
import type { Database } from "@/lib/db/client";
import type { Participant } from "@/lib/realtime/protocol";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { openTestDatabase } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import {
  ask,
  nextEvent,
  type RealtimeHarness,
  startRealtimeServer,
} from "@/test/support/realtime-server";
import { testRedisUrl } from "@/test/support/redis";

const redisUrl = testRedisUrl();

/** Two web nodes sharing one database and one Redis, as in a scaled-out deployment. */
describe.runIf(redisUrl)("two web nodes over Redis", () => {
  let database: Database;
  let nodeA: RealtimeHarness;
  let nodeB: RealtimeHarness;
  let ada: SessionUser;
  let bob: SessionUser;
  let roomId: string;

  beforeAll(async () => {
    database = await openTestDatabase("pglite");
    // A prefix per run keeps parallel test files' rate limits and channels apart.
    const env = { REDIS_URL: redisUrl!, CHAT_RATE_POINTS: "3", CHAT_RATE_WINDOW_S: "60" };
    nodeA = await startRealtimeServer("pglite", env, { database });
    nodeB = await startRealtimeServer("pglite", env, { database });
    ada = await createUser(database.db, "Ada");
    bob = await createUser(database.db, "Bob");
    const access = await doCreateRoom(database.db, ada, { kind: "open" });
    roomId = access.room.id;
    await doJoinRoomBySlug(database.db, bob, access.room.slug);
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await database?.close();
  });

  it("delivers a message sent on one node to a subscriber on the other", async () => {
    const a = await nodeA.client(ada);
    const b = await nodeB.client(bob);
    await ask(a, "room.subscribe", { roomId });
    await ask(b, "room.subscribe", { roomId });
    const received = nextEvent<RoomEvent>(b, "room.event");
    const ack = await ask(a, "message.send", {
      roomId,
      clientId: crypto.randomUUID(),
      body: "across nodes",
    });
    expect(ack.ok).toBe(true);
    const event = await received;
    expect(event.type === "message.created" && event.message.body).toBe("across nodes");
    a.disconnect();
    b.disconnect();
  });

  it("counts participants on every node", async () => {
    const b = await nodeB.client(bob);
    await ask(b, "room.subscribe", { roomId });
    const a = await nodeA.client(ada);
    const seen = nextEvent<{ participants: Participant[] }>(
      b,
      "presence",
      (p) => p.participants.length === 2,
    );
    const result = await ask(a, "room.subscribe", { roomId });
    expect(
      (result.data as { participants: Participant[] }).participants.map((p) => p.displayName),
    ).toEqual(["Ada", "Bob"]);
    expect((await seen).participants).toHaveLength(2);
    a.disconnect();
    b.disconnect();
  });

  it("shares one rate-limit budget per user across nodes", async () => {
    const user = await createUser(database.db, "Spread");
    const room = await doCreateRoom(database.db, user, { kind: "open" });
    const onA = await nodeA.client(user);
    const onB = await nodeB.client(user);
    const results = [];
    for (const s of [onA, onB, onA, onB]) {
      results.push(
        await ask(s, "message.send", {
          roomId: room.room.id,
          clientId: crypto.randomUUID(),
          body: "x",
        }),
      );
    }
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
    expect(results[3]!.error!.code).toBe("rate_limited");
    onA.disconnect();
    onB.disconnect();
  });
});
