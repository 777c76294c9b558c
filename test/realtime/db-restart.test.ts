import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { MessageView } from "@/lib/chat/schemas";
import { loadHistoryPage } from "@/lib/chat/views";
import { doCreateRoom } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { ask, type RealtimeHarness, startRealtimeServer } from "@/test/support/realtime-server";
import { startTcpProxy } from "@/test/support/tcp-proxy";

/**
 * The web node over a Postgres that restarts: while it is gone, commands fail with a clear
 * "unavailable" error (the process stays up, sockets stay connected); when it is back, the
 * pool reconnects by itself and the same client carries on, and a retried send is stored once.
 */
describe.runIf(testDbKinds().includes("postgres"))("a Postgres restart under the app", () => {
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let h: RealtimeHarness;
  let user: SessionUser;
  let roomId: string;

  beforeAll(async () => {
    const target = new URL(process.env.TEST_DATABASE_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const database = await openTestDatabase("postgres", {
      connectVia: (url) => {
        const via = new URL(url);
        via.hostname = "127.0.0.1";
        via.port = String(proxy.port);
        return via;
      },
    });
    h = await startRealtimeServer("postgres", {}, { database });
    user = await createUser(h.db, "Ada");
    roomId = (await doCreateRoom(h.db, user, { kind: "open" })).room.id;
  });
  afterAll(async () => {
    await h?.close();
    await h?.database.close();
    await proxy?.close();
  });

  it("fails requests cleanly while it is down and recovers on its own", async () => {
    const socket = await h.client(user);
    expect(
      (await ask(socket, "message.send", { roomId, clientId: crypto.randomUUID(), body: "before" }))
        .ok,
    ).toBe(true);

    await proxy.cut();
    const clientId = crypto.randomUUID();
    const during = await ask(socket, "message.send", { roomId, clientId, body: "during" });
    expect(during).toMatchObject({ ok: false, error: { code: "unavailable" } });
    expect(during.error!.message).toMatch(/database is unavailable/i);
    await expect(h.database.ping()).rejects.toThrow();
    expect(socket.connected).toBe(true);

    await proxy.restore();
    let after: Awaited<ReturnType<typeof ask>> | undefined;
    for (let i = 0; i < 20 && !after?.ok; i++) {
      after = await ask(socket, "message.send", { roomId, clientId, body: "during" });
      if (!after.ok) await new Promise((r) => setTimeout(r, 250));
    }
    expect(after?.ok).toBe(true);
    // The outbox's retry of the failed send is stored once.
    const again = await ask(socket, "message.send", { roomId, clientId, body: "during" });
    expect((again.data as MessageView).id).toBe((after!.data as MessageView).id);
    const history = await loadHistoryPage(h.db, roomId, { limit: 10 });
    expect(history.messages.map((m) => m.body)).toEqual(["before", "during"]);
    socket.disconnect();
  });
});
