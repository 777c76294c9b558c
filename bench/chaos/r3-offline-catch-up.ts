import { asc, eq } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import type { SyncPage } from "@/lib/chat/schemas";
import { messages } from "@/lib/db/schema";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import type { TestDbKind } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { ask, startRealtimeServer, type TestSocket } from "@/test/support/realtime-server";
import { percentiles, round } from "../stats";
import { progress, type RowResult, rowRecorder, sleep } from "./row";

export interface R3Options {
  /** How long the clients stay away (the 2 minutes with --long). */
  offlineMs: number;
  messages: number;
  clients: number;
  rooms: number;
}

export const R3_CI: R3Options = { offlineMs: 3000, messages: 300, clients: 10, rooms: 3 };
export const R3_LONG: R3Options = { ...R3_CI, offlineMs: 120_000 };

/** The p95 catch-up after reconnecting must be under this. */
export const R3_P95_LIMIT_MS = 2000;

/**
 * R3: clients in several rooms go offline while messages arrive in those rooms, then all
 * come back at once and catch up as the app does (subscribe, then `room.sync` pages from
 * the last seq they had). Each must end with every missed message exactly once, in seq
 * order, equal to what the database holds; the time from reconnecting to caught up is
 * measured per client.
 */
export async function runR3(kind: TestDbKind, options: R3Options = R3_CI): Promise<RowResult> {
  const r = rowRecorder(
    "R3",
    `clients offline ${options.offlineMs / 1000} s while ${options.messages} messages arrive`,
    kind,
  );
  const h = await startRealtimeServer(kind, {
    CHAT_RATE_POINTS: String(options.messages * 2),
    // One sender sends them all; the per-socket budget is not what this row is about.
    SOCKET_COMMAND_BURST: String(options.messages * 2),
  });
  try {
    const ada = await createUser(h.db, "Ada");
    const roomList = await Promise.all(
      Array.from({ length: options.rooms }, () => doCreateRoom(h.db, ada, { kind: "open" })),
    );
    const readers: SessionUser[] = [];
    for (let i = 0; i < options.clients; i++) {
      const user = await createUser(h.db, `Reader ${i}`);
      for (const { room } of roomList) await doJoinRoomBySlug(h.db, user, room.slug);
      readers.push(user);
    }
    // Each reader had the rooms open up to now, then went away.
    const lastSeen = new Map<string, number>();
    for (const { room } of roomList) {
      const socket = await h.client(readers[0]!);
      const sub = await ask(socket, "room.subscribe", { roomId: room.id });
      lastSeen.set(room.id, (sub.data as { lastSeq: number }).lastSeq);
      socket.disconnect();
    }

    const sender = await h.client(ada);
    r.watch();
    const offlineStart = Date.now();
    for (let i = 0; i < options.messages; i++) {
      const roomId = roomList[i % roomList.length]!.room.id;
      const sent = await ask(sender, "message.send", {
        roomId,
        clientId: crypto.randomUUID(),
        body: `m${i}`,
      });
      r.check(sent.ok, `send ${i} failed: ${sent.error?.message}`);
    }
    progress(
      `R3 (${kind}): ${options.messages} messages sent; waiting out the ${options.offlineMs} ms offline`,
    );
    await sleep(Math.max(0, options.offlineMs - (Date.now() - offlineStart)));

    const expected = new Map<string, string[]>();
    for (const { room } of roomList) {
      const rows = await h.db
        .select({ id: messages.id, seq: messages.seq })
        .from(messages)
        .where(eq(messages.roomId, room.id))
        .orderBy(asc(messages.seq));
      expected.set(
        room.id,
        rows.filter((m) => m.seq > lastSeen.get(room.id)!).map((m) => m.id),
      );
    }

    const catchUp = async (user: SessionUser) => {
      const start = performance.now();
      const socket = await h.client(user);
      const got = new Map<string, { ids: string[]; seqs: number[] }>();
      await Promise.all(
        roomList.map(async ({ room }) => {
          await ask(socket, "room.subscribe", { roomId: room.id });
          const seen = { ids: [] as string[], seqs: [] as number[] };
          let after = lastSeen.get(room.id)!;
          for (;;) {
            const result = await ask(socket, "room.sync", { roomId: room.id, afterSeq: after });
            if (!result.ok) throw new Error(`sync refused: ${result.error?.message}`);
            const page = result.data as SyncPage;
            for (const e of page.events) {
              seen.seqs.push(e.seq);
              if (e.type === "message.created") seen.ids.push(e.message.id);
            }
            after = page.throughSeq;
            if (!page.hasMore) break;
          }
          got.set(room.id, seen);
        }),
      );
      const ms = performance.now() - start;
      return { socket, got, ms };
    };
    const results = await Promise.all(readers.map(catchUp));

    let incomplete = 0;
    let outOfOrder = 0;
    for (const { got, socket } of results) {
      for (const { room } of roomList) {
        const seen = got.get(room.id)!;
        if (seen.ids.join() !== expected.get(room.id)!.join()) incomplete++;
        if (seen.seqs.some((s, i) => i > 0 && s <= seen.seqs[i - 1]!)) outOfOrder++;
      }
      (socket as TestSocket).disconnect();
    }
    const times = Float64Array.from(results.map((x) => x.ms));
    const { p50, p95, max } = percentiles([times], [50, 95, 100]);
    Object.assign(r.figures, {
      clients: options.clients,
      rooms: options.rooms,
      messagesWhileOffline: options.messages,
      offlineS: round(options.offlineMs / 1000, 1),
      catchUpP50Ms: p50 ?? 0,
      catchUpP95Ms: p95 ?? 0,
      catchUpMaxMs: max ?? 0,
      incompleteRooms: incomplete,
      outOfOrderRooms: outOfOrder,
    });
    r.check(incomplete === 0, `${incomplete} client-rooms missed or repeated messages`);
    r.check(outOfOrder === 0, `${outOfOrder} client-rooms got events out of order`);
    r.check(
      (p95 ?? Infinity) < R3_P95_LIMIT_MS,
      `catch-up p95 ${p95} ms is not under ${R3_P95_LIMIT_MS} ms`,
    );
    sender.disconnect();
  } finally {
    await h.close();
  }
  return r.done();
}
