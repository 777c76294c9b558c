import "server-only";
import { and, eq, inArray, isNull, sql, type SQL } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import { type Db, isUniqueViolation, type Queryable } from "@/lib/db/client";
import { attachments, messages, rooms } from "@/lib/db/schema";
import { preparedStatement, runPrepared, type TextRow } from "@/lib/db/prepared";
import { queryRows } from "@/lib/db/sql";
import { AppError, badRequest, forbidden, notFound } from "@/lib/errors";
import { toAttachmentView } from "@/lib/files/views";
import { accessRoomById, canManageRoom, type RoomAccess } from "@/lib/rooms/access";
import { runMessageDeletedHooks } from "./hooks";
import type { MessageEventType, MessageView, RoomEvent, SendMessageInput } from "./schemas";
import { excerpt, loadMessageViews } from "./views";

/**
 * The chat pipeline (docs/architecture.md, "Chat delivery"). check* functions reject
 * everything bad input can cause and change nothing; do* functions write. Every change is
 * one SQL statement (or one transaction) that also takes the room's next seq and appends
 * the event, so the log has no gaps and no change goes unlogged; the returned event is
 * what the caller broadcasts, after the write has committed.
 */

export interface ChatLimits {
  maxMessageLength: number;
}

/** The result of a command: what it produced, and the event to broadcast (none if it changed nothing). */
export interface ChatOutcome {
  message: MessageView;
  event: RoomEvent | null;
}

async function checkMember(db: Queryable, user: SessionUser, roomId: string): Promise<RoomAccess> {
  const access = await accessRoomById(db, roomId, user.id);
  if (!access) throw notFound("There is no such room");
  return access;
}

export function checkBody(body: string, limits: ChatLimits, allowEmpty: boolean): string {
  const text = body.trim();
  if (text.length > limits.maxMessageLength) {
    throw new AppError(
      "too_large",
      `A message is at most ${limits.maxMessageLength} characters (this one has ${text.length})`,
    );
  }
  if (!text && !allowEmpty) throw badRequest("Write something first");
  return text;
}

/** A message in the room that is not deleted, or a not-found error. */
async function checkLiveMessage(db: Queryable, roomId: string, messageId: string) {
  const [row] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.id, messageId), eq(messages.roomId, roomId)))
    .limit(1);
  if (!row || row.deletedAt) throw notFound("That message no longer exists");
  return row;
}

async function findByClientId(db: Queryable, user: SessionUser, roomId: string, clientId: string) {
  const [row] = await db
    .select({ id: messages.id, authorId: messages.authorId })
    .from(messages)
    .where(and(eq(messages.roomId, roomId), eq(messages.clientId, clientId)))
    .limit(1);
  if (!row) return null;
  if (row.authorId !== user.id) throw badRequest("That clientId is already taken");
  const [view] = await loadMessageViews(db, [row.id]);
  return view ?? null;
}

/**
 * A plain send (no reply, no files) in one prepared statement: the membership and clientId
 * checks are conditions of the seq update, so the common case is one round trip, planned
 * once. It inserts nothing, and takes no seq, when the sender is not a member or the
 * clientId was used; two racing retries of one clientId end in a unique violation, which
 * rolls the whole statement back.
 */
export const sendMessageStatement = preparedStatement(
  "parley_send_message",
  `with next as (
     update rooms set last_seq = last_seq + 1
     where id = $1
       and exists (select 1 from room_members where room_id = $1 and user_id = $2)
       and not exists (select 1 from messages where room_id = $1 and client_id = $3)
     returning last_seq
   ), created as (
     insert into messages (id, room_id, author_id, client_id, seq, body)
     select $4, $1, $2, $3, next.last_seq, $5 from next
     returning seq, created_at
   ), logged as (
     insert into room_events (room_id, seq, type, actor_id, message_id)
     select $1, created.seq, 'message.created', $2, $4 from created
   )
   select seq, created_at from created`,
);

/**
 * Sends a message. Idempotent on (room, clientId): a retry of a send that already
 * committed returns the original message and no new event.
 */
export async function doSendMessage(
  db: Db,
  user: SessionUser,
  input: SendMessageInput,
  limits: ChatLimits,
): Promise<ChatOutcome> {
  const attachmentIds = [...new Set(input.attachmentIds ?? [])];
  const body = checkBody(input.body, limits, attachmentIds.length > 0);
  const id = crypto.randomUUID();
  const created = (
    row: { seq: string | number; created_at: string | Date },
    extra: {
      replyTo: MessageView["replyTo"];
      attachments: MessageView["attachments"];
    },
  ): ChatOutcome => {
    const message: MessageView = {
      id,
      roomId: input.roomId,
      seq: Number(row.seq),
      clientId: input.clientId,
      author: { id: user.id, displayName: user.displayName },
      body,
      createdAt: new Date(row.created_at).toISOString(),
      editedAt: null,
      deletedAt: null,
      reactions: [],
      ...extra,
    };
    return {
      message,
      event: { type: "message.created", roomId: input.roomId, seq: message.seq, message },
    };
  };
  // Nothing was inserted, or a racing retry of this clientId won: answer with the original.
  const original = async () => {
    await checkMember(db, user, input.roomId);
    return findByClientId(db, user, input.roomId, input.clientId);
  };

  if (attachmentIds.length === 0 && !input.replyToId) {
    let rows: TextRow[];
    try {
      rows = await runPrepared(db, sendMessageStatement, [
        input.roomId,
        user.id,
        input.clientId,
        id,
        body,
      ]);
    } catch (err) {
      const existing = isUniqueViolation(err) ? await original() : null;
      if (existing) return { message: existing, event: null };
      throw err;
    }
    const [seq, createdAt] = rows[0] ?? [];
    if (seq && createdAt) {
      return created({ seq, created_at: createdAt }, { replyTo: null, attachments: [] });
    }
    const existing = await original();
    if (existing) return { message: existing, event: null };
    throw notFound("There is no such room");
  }

  await checkMember(db, user, input.roomId);
  const existing = await findByClientId(db, user, input.roomId, input.clientId);
  if (existing) return { message: existing, event: null };

  let replyTo: MessageView["replyTo"] = null;
  if (input.replyToId) {
    const target = await checkLiveMessage(db, input.roomId, input.replyToId).catch(() => {
      throw badRequest("The message you are replying to no longer exists");
    });
    const [author] = await loadMessageViews(db, [target.id]);
    replyTo = {
      id: target.id,
      authorName: author?.author.displayName ?? "",
      excerpt: excerpt(target.body),
      deleted: false,
    };
  }

  const insert = (q: Queryable) =>
    queryRows<{ seq: string | number; created_at: string | Date }>(
      q,
      sql`with next as (
            update ${rooms} set last_seq = last_seq + 1 where id = ${input.roomId} returning last_seq
          ), created as (
            insert into ${messages} (id, room_id, author_id, client_id, seq, body, reply_to_id)
            select ${id}, ${input.roomId}, ${user.id}, ${input.clientId}, next.last_seq, ${body}, ${input.replyToId ?? null}
            from next returning seq, created_at
          ), logged as (
            insert into room_events (room_id, seq, type, actor_id, message_id)
            select ${input.roomId}, created.seq, 'message.created', ${user.id}, ${id} from created
          )
          select seq, created_at from created`,
    );

  let row: { seq: string | number; created_at: string | Date } | undefined;
  let attached: MessageView["attachments"] = [];
  try {
    if (attachmentIds.length === 0) {
      [row] = await insert(db);
    } else {
      [row, attached] = await db.transaction(async (tx) => {
        const files = await checkAttachable(tx, user, input.roomId, attachmentIds);
        const [inserted] = await insert(tx);
        await tx
          .update(attachments)
          .set({ messageId: id })
          .where(and(inArray(attachments.id, attachmentIds), isNull(attachments.messageId)));
        return [inserted, files.map(toAttachmentView)] as const;
      });
    }
  } catch (err) {
    if (isUniqueViolation(err)) {
      const existingNow = await original();
      if (existingNow) return { message: existingNow, event: null };
    }
    throw err;
  }
  if (!row) throw notFound("There is no such room");
  return created(row, { replyTo, attachments: attached });
}

/** Locks the files being shared and checks each is the sender's, in this room, unshared. */
async function checkAttachable(tx: Queryable, user: SessionUser, roomId: string, ids: string[]) {
  const rows = await tx
    .select()
    .from(attachments)
    .where(inArray(attachments.id, ids))
    .for("update");
  const ok = (a: (typeof rows)[number]) =>
    a.roomId === roomId && a.uploaderId === user.id && a.messageId === null;
  if (rows.length !== ids.length || !rows.every(ok)) {
    throw badRequest("A file in this message is not yours to share here, or was shared already");
  }
  return ids.map((id) => rows.find((r) => r.id === id)!);
}

export async function doEditMessage(
  db: Db,
  user: SessionUser,
  input: { roomId: string; messageId: string; body: string },
  limits: ChatLimits,
): Promise<ChatOutcome> {
  await checkMember(db, user, input.roomId);
  const current = await checkLiveMessage(db, input.roomId, input.messageId);
  if (current.authorId !== user.id) throw forbidden("You can only edit your own messages");
  const hasFiles = (await db.$count(attachments, eq(attachments.messageId, current.id))) > 0;
  const body = checkBody(input.body, limits, hasFiles);
  if (body === current.body) return { message: await viewOf(db, current.id), event: null };

  return appendMessageEvent(
    db,
    user,
    input.roomId,
    current.id,
    "message.edited",
    sql`
    update ${messages} set body = ${body}, edited_at = now()
    where id = ${current.id} and deleted_at is null returning id`,
  );
}

/** Authors delete their own messages; the room's owner may delete anyone's. */
export async function doDeleteMessage(
  db: Db,
  user: SessionUser,
  input: { roomId: string; messageId: string },
): Promise<ChatOutcome> {
  const access = await checkMember(db, user, input.roomId);
  const [current] = await db
    .select()
    .from(messages)
    .where(and(eq(messages.id, input.messageId), eq(messages.roomId, input.roomId)))
    .limit(1);
  if (!current) throw notFound("That message no longer exists");
  if (current.authorId !== user.id && !canManageRoom(access)) {
    throw forbidden("You can only delete your own messages");
  }
  if (current.deletedAt) return { message: await viewOf(db, current.id), event: null };

  const outcome = await appendMessageEvent(
    db,
    user,
    input.roomId,
    current.id,
    "message.deleted",
    sql`update ${messages} set deleted_at = now(), body = ''
        where id = ${current.id} and deleted_at is null returning id`,
  );
  if (outcome.event) {
    await runMessageDeletedHooks({ messageId: current.id, roomId: input.roomId });
  }
  return outcome;
}

export async function doReact(
  db: Db,
  user: SessionUser,
  input: { roomId: string; messageId: string; emoji: string; on: boolean },
): Promise<ChatOutcome> {
  await checkMember(db, user, input.roomId);
  const target = await checkLiveMessage(db, input.roomId, input.messageId);
  const change = input.on
    ? sql`insert into reactions (message_id, user_id, emoji)
          values (${target.id}, ${user.id}, ${input.emoji})
          on conflict do nothing returning message_id`
    : sql`delete from reactions
          where message_id = ${target.id} and user_id = ${user.id} and emoji = ${input.emoji}
          returning message_id`;
  return appendMessageEvent(db, user, input.roomId, target.id, "reaction.changed", change);
}

/**
 * Applies `change` (a data-modifying statement that returns a row when it changed
 * something) and, in the same statement, takes the room's next seq and logs the event.
 * When it changed nothing, no seq is taken: the log stays gapless.
 */
async function appendMessageEvent(
  db: Db,
  user: SessionUser,
  roomId: string,
  messageId: string,
  type: MessageEventType,
  change: SQL,
): Promise<ChatOutcome> {
  const [row] = await queryRows<{ seq: string | number }>(
    db,
    sql`with change as (${change}),
        next as (
          update ${rooms} set last_seq = last_seq + 1
          where id = ${roomId} and exists (select 1 from change) returning last_seq
        )
        insert into room_events (room_id, seq, type, actor_id, message_id)
        select ${roomId}, next.last_seq, ${type}, ${user.id}, ${messageId} from next
        returning seq`,
  );
  const message = await viewOf(db, messageId);
  if (!row) return { message, event: null };
  return { message, event: { type, roomId, seq: Number(row.seq), message } };
}

async function viewOf(db: Queryable, messageId: string): Promise<MessageView> {
  const [view] = await loadMessageViews(db, [messageId]);
  if (!view) throw notFound("That message no longer exists");
  return view;
}
