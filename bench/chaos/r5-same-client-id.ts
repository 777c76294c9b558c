import { count, eq } from "drizzle-orm";
import type { MessageView } from "@/lib/chat/schemas";
import { messages, rooms } from "@/lib/db/schema";
import { doCreateRoom } from "@/lib/rooms/service";
import type { TestDbKind } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { ask, startRealtimeServer } from "@/test/support/realtime-server";
import { type RowResult, rowRecorder } from "./row";

/**
 * R5: a send retried with the same client id but another body (a buggy or hostile client,
 * or an outbox edited between tries) answers with the original message and changes
 * nothing: no new message, no new seq, the stored body untouched — also when the retries
 * race each other.
 */
export async function runR5(kind: TestDbKind): Promise<RowResult> {
  const r = rowRecorder("R5", "the same client id sent again with a different body", kind);
  const h = await startRealtimeServer(kind, { CHAT_RATE_POINTS: "1000" });
  try {
    const ada = await createUser(h.db, "Ada");
    const roomId = (await doCreateRoom(h.db, ada, { kind: "open" })).room.id;
    const socket = await h.client(ada);
    r.watch();
    const clientId = crypto.randomUUID();
    const first = await ask(socket, "message.send", { roomId, clientId, body: "the original" });
    const original = first.data as MessageView;
    r.check(first.ok, "the first send was refused");
    const state = async () => {
      const [room] = await h.db
        .select({ lastSeq: rooms.lastSeq })
        .from(rooms)
        .where(eq(rooms.id, roomId));
      const [n] = await h.db
        .select({ n: count() })
        .from(messages)
        .where(eq(messages.roomId, roomId));
      return { lastSeq: room!.lastSeq, messages: n!.n };
    };
    const before = await state();

    const retries = await Promise.all([
      ask(socket, "message.send", { roomId, clientId, body: "a different body" }),
      ...Array.from({ length: 10 }, (_, i) =>
        ask(socket, "message.send", { roomId, clientId, body: `racing body ${i}` }),
      ),
    ]);
    const answers = retries.map((x) => x.data as MessageView | undefined);
    const same = answers.filter(
      (m) => m && m.id === original.id && m.seq === original.seq && m.body === "the original",
    ).length;
    const after = await state();
    const [stored] = await h.db
      .select({ body: messages.body })
      .from(messages)
      .where(eq(messages.id, original.id));

    Object.assign(r.figures, {
      retries: retries.length,
      answeredWithOriginal: same,
      newMessages: after.messages - before.messages,
      newSeqs: after.lastSeq - before.lastSeq,
    });
    r.check(
      same === retries.length,
      `${retries.length - same} retries were not answered with the original`,
    );
    r.check(after.messages === before.messages, "a retry stored a new message");
    r.check(after.lastSeq === before.lastSeq, "a retry took a new seq");
    r.check(stored?.body === "the original", "a retry changed the stored body");
    socket.disconnect();
  } finally {
    await h.close();
  }
  return r.done();
}
