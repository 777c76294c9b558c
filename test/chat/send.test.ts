import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { sendMessageSql, sendMessageStatement } from "@/lib/chat/send-statement";
import { doDeleteMessage, doSendMessage } from "@/lib/chat/service";
import { loadEventsSince } from "@/lib/chat/views";
import type { Database, Db } from "@/lib/db/client";
import { isAppError, toErrorBody } from "@/lib/errors";
import { doCreateRoom, doJoinRoomBySlug, doRemoveMember } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";
import { startTcpProxy } from "@/test/support/tcp-proxy";
import { PgDialect } from "drizzle-orm/pg-core";

/**
 * The chat send (lib/chat/send-statement.ts): one statement whose conditions are the
 * access rule, the clientId and the reply target, and an answer for each way it can fail
 * — a database failure being an error, never "the message you are replying to no longer
 * exists".
 */
const limits = { maxMessageLength: 200 };
const REPLY_GONE = "The message you are replying to no longer exists";

describe("the send statement", () => {
  it("is one definition: the prepared text is the Drizzle form compiled", () => {
    const values = {
      roomId: crypto.randomUUID(),
      userId: crypto.randomUUID(),
      clientId: crypto.randomUUID(),
      messageId: crypto.randomUUID(),
      body: "hi",
      replyToId: null,
      fileNames: "",
    };
    const drizzleForm = new PgDialect().sqlToQuery(sendMessageSql(values));
    expect(drizzleForm.sql).toBe(sendMessageStatement.text);
    // The membership condition is the access rule's, not a copy.
    expect(sendMessageStatement.text).toContain(
      'exists (select 1 from "room_members" where ("room_members"."room_id" =',
    );
  });
});

describe.each(testDbKinds())("sending on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let bob: SessionUser;
  let outsider: SessionUser;
  let roomId: string;
  let slug: string;
  const lastSeq = async () => (await loadEventsSince(database.db, roomId, 0, 1)).lastSeq;
  const send = (user: SessionUser, body: string, replyToId?: string) =>
    doSendMessage(
      database.db,
      user,
      { roomId, clientId: crypto.randomUUID(), body, ...(replyToId ? { replyToId } : {}) },
      limits,
    );

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    ada = await createUser(database.db, "Ada");
    bob = await createUser(database.db, "Bob");
    outsider = await createGuest(database.db, "Eve");
    const { room } = await doCreateRoom(database.db, ada, { kind: "open" });
    roomId = room.id;
    slug = room.slug;
    await doJoinRoomBySlug(database.db, bob, slug);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("refuses a non-member (and a removed member) as a missing room, taking no seq", async () => {
    const { message } = await send(ada, "members only");
    const before = await lastSeq();
    await expect(send(outsider, "let me in")).rejects.toMatchObject({ code: "not_found" });
    // Replying to a live message tells an outsider nothing about it either.
    await expect(send(outsider, "me too", message.id)).rejects.toMatchObject({
      code: "not_found",
    });

    const carol = await createGuest(database.db, "Carol");
    await doJoinRoomBySlug(database.db, carol, slug);
    await send(carol, "hello");
    await doRemoveMember(database.db, ada, roomId, carol.id);
    const afterCarol = await lastSeq();
    await expect(send(carol, "still here?")).rejects.toMatchObject({ code: "not_found" });
    expect(await lastSeq()).toBe(afterCarol);
    expect(afterCarol).toBe(before + 1);
  });

  it("answers a reply to a deleted message with the clear message, taking no seq", async () => {
    const { message } = await send(ada, "soon gone");
    await doDeleteMessage(database.db, ada, { roomId, messageId: message.id });
    const before = await lastSeq();
    await expect(send(bob, "too late", message.id)).rejects.toMatchObject({
      code: "bad_request",
      message: REPLY_GONE,
    });
    // A message of another room, or none at all, is as gone.
    await expect(send(bob, "who?", crypto.randomUUID())).rejects.toMatchObject({
      code: "bad_request",
      message: REPLY_GONE,
    });
    expect(await lastSeq()).toBe(before);
  });

  it("quotes the message a reply answers", async () => {
    const { message: question } = await send(ada, "Lunch?");
    const { message: reply, event } = await send(bob, "yes", question.id);
    expect(reply.replyTo).toEqual({
      id: question.id,
      authorName: "Ada",
      excerpt: "Lunch?",
      deleted: false,
    });
    expect(event).toMatchObject({ type: "message.created", seq: reply.seq });
  });

  it("reports a failure of the reply-target lookup as that failure, not as a missing reply", async () => {
    // The reply target is gone, so the send writes nothing and the service looks up why;
    // the database fails on the lookup of the target itself (the third query).
    const { message } = await send(ada, "soon gone");
    await doDeleteMessage(database.db, ada, { roomId, messageId: message.id });
    const outage = Object.assign(new Error("Connection terminated unexpectedly"), {
      code: "57P01",
    });
    const failing = failNthSelect(database.db, 3, outage);
    const failure = await doSendMessage(
      failing,
      bob,
      { roomId, clientId: crypto.randomUUID(), body: "late", replyToId: message.id },
      limits,
    ).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toBe(outage);
    expect(toErrorBody(failure).code).toBe("unavailable");
  });

  it("reports a database failure during a reply as an error, not as a missing reply", async () => {
    // Its own database, behind a proxy for Postgres, so failing it spares the others.
    let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
    if (kind === "postgres") {
      const target = new URL(process.env.TEST_DATABASE_URL!);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    }
    const own = await openTestDatabase(kind, {
      connectVia: (url) => {
        const via = new URL(url);
        via.hostname = "127.0.0.1";
        via.port = String(proxy!.port);
        return via;
      },
    });
    try {
      const user = await createUser(own.db, "Ada");
      const { room } = await doCreateRoom(own.db, user, { kind: "open" });
      const input = (body: string, replyToId?: string) => ({
        roomId: room.id,
        clientId: crypto.randomUUID(),
        body,
        ...(replyToId ? { replyToId } : {}),
      });
      const { message } = await doSendMessage(own.db, user, input("question"), limits);

      // The database goes away: a Postgres restart (the proxy cuts every connection), or
      // PGlite closed under the web node.
      if (proxy) await proxy.cut();
      else await own.close();
      const failure = await doSendMessage(own.db, user, input("answer", message.id), limits).then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).not.toBeNull();
      expect(isAppError(failure)).toBe(false);
      const body = toErrorBody(failure);
      expect(body.message).not.toBe(REPLY_GONE);
      expect(body.code).toBe(kind === "postgres" ? "unavailable" : "internal");
    } finally {
      await proxy?.restore();
      await own.close().catch(() => undefined);
      await proxy?.close();
    }
  });
});

/**
 * The database handle, except that its `n`th `select` fails with `error` when run: a
 * fault at one exact step of a multi-query operation. Prepared statements (`$client`) and
 * every other query go through untouched.
 */
function failNthSelect(db: Db, n: number, error: Error): Db {
  let selects = 0;
  const failingChain: unknown = new Proxy(() => undefined, {
    get: (_target, prop) =>
      prop === "then"
        ? (_resolve: unknown, reject: (err: unknown) => void) => reject(error)
        : () => failingChain,
  });
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== "select" || typeof value !== "function") return value;
      return (...args: unknown[]) =>
        ++selects === n
          ? failingChain
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
}
