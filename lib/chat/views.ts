import "server-only";
import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
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

/** A page of history, newest messages first in the query, returned oldest first. */
export async function loadHistoryPage(
  db: Queryable,
  roomId: string,
  options: { before?: number; limit: number },
): Promise<HistoryPage> {
  const [room] = await db
    .select({ lastSeq: rooms.lastSeq })
    .from(rooms)
    .where(eq(rooms.id, roomId));
  const rows = await db
    .select({ id: messages.id })
    .from(messages)
    .where(
      options.before === undefined
        ? eq(messages.roomId, roomId)
        : and(eq(messages.roomId, roomId), lt(messages.seq, options.before)),
    )
    .orderBy(desc(messages.seq))
    .limit(options.limit + 1);
  const hasMore = rows.length > options.limit;
  const ids = rows
    .slice(0, options.limit)
    .map((r) => r.id)
    .reverse();
  return { messages: await loadMessageViews(db, ids), hasMore, lastSeq: room?.lastSeq ?? 0 };
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

/**
 * The history a reader opening the room at message `seq` needs: everything from `context`
 * messages before it to the newest, as one page like `loadHistoryPage`'s (so the chat's
 * cache and live sync work unchanged). At most `max` messages: a target further back is
 * reached by paging older from there (the client does, components/chat/MessageList.tsx).
 */
export async function loadHistoryAround(
  db: Queryable,
  roomId: string,
  seq: number,
  options: { context?: number; max?: number } = {},
): Promise<HistoryPage> {
  const context = options.context ?? 25;
  const max = options.max ?? 500;
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(messages)
    .where(and(eq(messages.roomId, roomId), sql`${messages.seq} >= ${seq}`));
  const newer = Number(row?.n ?? 0);
  return loadHistoryPage(db, roomId, { limit: Math.max(50, Math.min(newer + context, max)) });
}
