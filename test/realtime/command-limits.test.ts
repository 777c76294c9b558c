import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { MAX_WATCHED_ROOMS } from "@/lib/realtime/protocol";
import { doCreateRoom } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { ask, type RealtimeHarness, startRealtimeServer } from "@/test/support/realtime-server";

/** Counts the statements the app sends through the database driver (PGlite or node-postgres). */
function countQueries(database: Database): { count: () => number } {
  const client = (database.db as unknown as { $client: Record<string, unknown> }).$client;
  let count = 0;
  for (const method of ["query", "exec"]) {
    const original = client[method];
    if (typeof original !== "function") continue;
    client[method] = function (this: unknown, ...args: unknown[]) {
      count++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return { count: () => count };
}

describe.each(testDbKinds())("socket command limits on %s", (kind) => {
  let database: Database;
  let queries: { count: () => number };
  let h: RealtimeHarness;
  let ada: SessionUser;
  let mine: string[];

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    queries = countQueries(database);
    h = await startRealtimeServer(
      kind,
      { SOCKET_COMMAND_BURST: "5", SOCKET_COMMAND_RATE_PER_S: "2" },
      { database },
    );
    ada = await createUser(h.db, "Ada");
    mine = [];
    for (let i = 0; i < 3; i++)
      mine.push((await doCreateRoom(h.db, ada, { kind: "open" })).room.id);
  });
  afterAll(async () => {
    await h?.close();
    await database?.close();
  });

  it("watches and lists every room of a rooms.watch in two queries, however many are named", async () => {
    const socket = await h.client(ada);
    const others = Array.from({ length: MAX_WATCHED_ROOMS - mine.length }, () =>
      crypto.randomUUID(),
    );
    const before = queries.count();
    const result = await ask(socket, "rooms.watch", { roomIds: [...others, ...mine] });
    expect(result).toMatchObject({ ok: true, data: { watching: 3 } });
    const listed = (result.data as { rooms: Array<{ id: string }> }).rooms.map((r) => r.id);
    expect(listed.sort()).toEqual([...mine].sort());
    // Which are yours, then their summaries.
    expect(queries.count() - before).toBe(2);

    const tooMany = await ask(socket, "rooms.watch", {
      roomIds: [...others, ...mine, crypto.randomUUID()],
    });
    expect(tooMany).toMatchObject({
      ok: false,
      error: {
        code: "bad_request",
        message: `roomIds: Watch at most ${MAX_WATCHED_ROOMS} rooms at once`,
      },
    });
    socket.disconnect();
  });

  it("answers rate_limited past a socket's burst, runs nothing, and refills", async () => {
    const socket = await h.client(ada);
    const before = queries.count();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => ask(socket, "rooms.watch", { roomIds: mine })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.error).toEqual({
        code: "rate_limited",
        message: "Too many requests; wait 1 second",
      });
    }
    expect(queries.count() - before).toBe(10);
    // Another socket of the same user has its own budget.
    const other = await h.client(ada);
    expect((await ask(other, "rooms.watch", { roomIds: mine })).ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await ask(socket, "rooms.watch", { roomIds: mine })).ok).toBe(true);
    socket.disconnect();
    other.disconnect();
  });
});
