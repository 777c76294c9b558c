import "server-only";
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Queryable } from "@/lib/db/client";
import {
  attachments,
  messageColumns,
  messages,
  reactions,
  rooms,
  roomEvents,
  users,
} from "@/lib/db/schema";
import { toAttachmentView } from "@/lib/files/views";
import type {
  AttachmentView,
  HistoryCursor,
  HistoryPage,
  MessageEventType,
  MessageView,
  ReactionView,
  RoomEvent,
  SyncPage,
} from "./schemas";

/** How much of a replied-to message a reply quotes. */
const EXCERPT_LENGTH = 140;

const replies = alias(messages, "reply");
const replyAuthors = alias(users, "reply_author");

/** Messages as clients see them, in the order of `ids` (missing ids are skipped). */
export async function loadMessageViews(db: Queryable, ids: string[]): Promise<MessageView[]> {
  if (ids.length === 0) return [];
  const [rows, reactionRows, attachmentRows] = await Promise.all([
    db
      .select({
        message: messageColumns,
        authorName: users.displayName,
        reply: {
          id: replies.id,
          body: replies.body,
          deletedAt: replies.deletedAt,
          authorName: replyAuthors.displayName,
        },
      })
      .from(messages)
      .innerJoin(users, eq(users.id, messages.authorId))
      .leftJoin(replies, eq(replies.id, messages.replyToId))
      .leftJoin(replyAuthors, eq(replyAuthors.id, replies.authorId))
      .where(inArray(messages.id, ids)),
    db
      .select({ messageId: reactions.messageId, emoji: reactions.emoji, userId: reactions.userId })
      .from(reactions)
      .where(inArray(reactions.messageId, ids))
      .orderBy(asc(reactions.createdAt)),
    db
      .select()
      .from(attachments)
      .where(inArray(attachments.messageId, ids))
      .orderBy(asc(attachments.createdAt)),
  ]);

  const reactionsByMessage = new Map<string, Map<string, string[]>>();
  for (const r of reactionRows) {
    let byEmoji = reactionsByMessage.get(r.messageId);
    if (!byEmoji) reactionsByMessage.set(r.messageId, (byEmoji = new Map()));
    const userIds = byEmoji.get(r.emoji) ?? [];
    userIds.push(r.userId);
    byEmoji.set(r.emoji, userIds);
  }
  const attachmentsByMessage = new Map<string, AttachmentView[]>();
  for (const a of attachmentRows) {
    if (!a.messageId) continue;
    const list = attachmentsByMessage.get(a.messageId) ?? [];
    list.push(toAttachmentView(a));
    attachmentsByMessage.set(a.messageId, list);
  }

  const byId = new Map<string, MessageView>();
  for (const { message: m, authorName, reply } of rows) {
    const deleted = m.deletedAt !== null;
    const reactionList: ReactionView[] = deleted
      ? []
      : [...(reactionsByMessage.get(m.id) ?? new Map<string, string[]>())].map(
          ([emoji, userIds]) => ({ emoji, count: userIds.length, userIds }),
        );
    byId.set(m.id, {
      id: m.id,
      roomId: m.roomId,
      seq: m.seq,
      clientId: m.clientId,
      author: { id: m.authorId, displayName: authorName },
      body: deleted ? "" : m.body,
      replyTo:
        reply && reply.id
          ? {
              id: reply.id,
              authorName: reply.authorName ?? "",
              excerpt: reply.deletedAt ? "" : excerpt(reply.body ?? ""),
              deleted: reply.deletedAt !== null,
            }
          : null,
      createdAt: m.createdAt.toISOString(),
      editedAt: m.editedAt?.toISOString() ?? null,
      deletedAt: m.deletedAt?.toISOString() ?? null,
      reactions: reactionList,
      attachments: deleted ? [] : (attachmentsByMessage.get(m.id) ?? []),
    });
  }
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT_LENGTH ? flat.slice(0, EXCERPT_LENGTH - 1) + "…" : flat;
}

/**
 * A page of history, oldest first: the newest `limit` messages, the `limit` before
 * `cursor.before`, the `limit` after `cursor.after`, or a window `around` a message
 * (`loadHistoryAround`). Each page says whether there is more on either side of it, so a
 * reader can page both ways from anywhere (docs/architecture.md, "The message window").
 */
export async function loadHistoryPage(
  db: Queryable,
  roomId: string,
  options: HistoryCursor & { limit: number },
): Promise<HistoryPage> {
  const { before, after, around, limit } = options;
  if (around !== undefined) return loadHistoryAround(db, roomId, around, { limit });
  const inRoom = eq(messages.roomId, roomId);
  const [lastSeq, rows, beyond] = await Promise.all([
    roomLastSeq(db, roomId),
    after !== undefined
      ? messageIds(db, and(inRoom, gt(messages.seq, after)), "asc", limit + 1)
      : messageIds(
          db,
          before === undefined ? inRoom : and(inRoom, lt(messages.seq, before)),
          "desc",
          limit + 1,
        ),
    // Whether anything lies on the other side of the cursor.
    after !== undefined
      ? anyMessage(db, and(inRoom, lte(messages.seq, after)))
      : before !== undefined
        ? anyMessage(db, and(inRoom, gte(messages.seq, before)))
        : false,
  ]);
  const more = rows.length > limit;
  const ids = rows.slice(0, limit);
  if (after === undefined) ids.reverse();
  return {
    messages: await loadMessageViews(db, ids),
    hasMore: after === undefined ? more : beyond,
    hasNewer: after === undefined ? beyond : more,
    lastSeq,
  };
}

/**
 * The window a reader opening the room at message `seq` sees: up to `limit` messages, half
 * before it and the rest from it on (more on one side when the other runs out), with
 * whether there is more either way. `seq` need not be a message's: the window is then
 * around where it would be.
 */
export async function loadHistoryAround(
  db: Queryable,
  roomId: string,
  seq: number,
  options: { limit: number },
): Promise<HistoryPage> {
  const { limit } = options;
  const inRoom = eq(messages.roomId, roomId);
  const [lastSeq, older, newer] = await Promise.all([
    roomLastSeq(db, roomId),
    messageIds(db, and(inRoom, lt(messages.seq, seq)), "desc", limit + 1),
    messageIds(db, and(inRoom, gte(messages.seq, seq)), "asc", limit + 1),
  ]);
  const half = Math.floor(limit / 2);
  const newerCount = Math.min(newer.length, Math.max(limit - half, limit - older.length));
  const olderCount = Math.min(older.length, limit - newerCount);
  const ids = [...older.slice(0, olderCount).reverse(), ...newer.slice(0, newerCount)];
  return {
    messages: await loadMessageViews(db, ids),
    hasMore: older.length > olderCount,
    hasNewer: newer.length > newerCount,
    lastSeq,
  };
}

async function roomLastSeq(db: Queryable, roomId: string): Promise<number> {
  const [room] = await db
    .select({ lastSeq: rooms.lastSeq })
    .from(rooms)
    .where(eq(rooms.id, roomId));
  return room?.lastSeq ?? 0;
}

/** Ids of the messages matching `where`, by seq in `order`, at most `limit` (the room's seq index). */
async function messageIds(
  db: Queryable,
  where: SQL | undefined,
  order: "asc" | "desc",
  limit: number,
): Promise<string[]> {
  const rows = await db
    .select({ id: messages.id })
    .from(messages)
    .where(where)
    .orderBy(order === "asc" ? asc(messages.seq) : desc(messages.seq))
    .limit(limit);
  return rows.map((r) => r.id);
}

async function anyMessage(db: Queryable, where: SQL | undefined): Promise<boolean> {
  const rows = await db.select({ id: messages.id }).from(messages).where(where).limit(1);
  return rows.length > 0;
}

/** The events after `afterSeq`, each with the current state of what it is about. */
export async function loadEventsSince(
  db: Queryable,
  roomId: string,
  afterSeq: number,
  limit: number,
): Promise<SyncPage> {
  const [room] = await db
    .select({ lastSeq: rooms.lastSeq })
    .from(rooms)
    .where(eq(rooms.id, roomId));
  const rows = await db
    .select({
      seq: roomEvents.seq,
      type: roomEvents.type,
      messageId: roomEvents.messageId,
      payload: roomEvents.payload,
    })
    .from(roomEvents)
    .where(and(eq(roomEvents.roomId, roomId), sql`${roomEvents.seq} > ${afterSeq}`))
    .orderBy(asc(roomEvents.seq))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const messageIds = [...new Set(page.flatMap((r) => (r.messageId ? [r.messageId] : [])))];
  const views = new Map((await loadMessageViews(db, messageIds)).map((m) => [m.id, m]));
  const events: RoomEvent[] = page.flatMap((r): RoomEvent[] => {
    if (r.type === "room.renamed") {
      const name = (r.payload as { name?: unknown } | null)?.name;
      return typeof name === "string" ? [{ type: "room.renamed", roomId, seq: r.seq, name }] : [];
    }
    const message = r.messageId ? views.get(r.messageId) : undefined;
    return message ? [{ type: r.type as MessageEventType, roomId, seq: r.seq, message }] : [];
  });
  return {
    events,
    throughSeq: page.at(-1)?.seq ?? afterSeq,
    lastSeq: room?.lastSeq ?? 0,
    hasMore: rows.length > limit,
  };
}
