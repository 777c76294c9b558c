import "server-only";
import { and, eq, inArray, isNull, sql, type SQL } from "drizzle-orm";
import type { SessionUser } from "@/lib/auth/schemas";
import { type Db, isUniqueViolation, type Queryable } from "@/lib/db/client";
import { attachments, messageColumns, messages, rooms, users } from "@/lib/db/schema";
import { runPrepared } from "@/lib/db/prepared";
import { queryRows } from "@/lib/db/sql";
import { AppError, badRequest, forbidden, notFound } from "@/lib/errors";
import { toAttachmentView } from "@/lib/files/views";
import { accessRoomById, canManageRoom, type RoomAccess } from "@/lib/rooms/access";
import { runMessageDeletedHooks } from "./hooks";
import type { MessageEventType, MessageView, RoomEvent, SendMessageInput } from "./schemas";
import {
  type SendValues,
  sendMessageParams,
  sendMessageSql,
  sendMessageStatement,
} from "./send-statement";
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
    .select(messageColumns)
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
 * Sends a message: one statement (lib/chat/send-statement.ts) that also checks the
 * sender's membership, the clientId and the reply target, prepared once and run in one
 * round trip; a send that shares files runs it inside the transaction that attaches them.
 * Idempotent on (room, clientId): a retry of a send that already committed returns the
 * original message and no new event.
 */
export async function doSendMessage(
  db: Db,
  user: SessionUser,
  input: SendMessageInput,
  limits: ChatLimits,
): Promise<ChatOutcome> {
  const attachmentIds = [...new Set(input.attachmentIds ?? [])];
  const body = checkBody(input.body, limits, attachmentIds.length > 0);
  const values: SendValues = {
    roomId: input.roomId,
    userId: user.id,
    clientId: input.clientId,
    messageId: crypto.randomUUID(),
    body,
    replyToId: input.replyToId ?? null,
    fileNames: "",
  };

  let sent: {
    seq: number;
    createdAt: string | Date;
    attachments: MessageView["attachments"];
  } | null;
  try {
    if (attachmentIds.length === 0) {
      const [row] = await runPrepared(db, sendMessageStatement, sendMessageParams(values));
      sent =
        row?.[0] && row[1] ? { seq: Number(row[0]), createdAt: row[1], attachments: [] } : null;
    } else {
      await checkMember(db, user, input.roomId);
      const existing = await findByClientId(db, user, input.roomId, input.clientId);
      if (existing) return { message: existing, event: null };
      sent = await db
        .transaction(async (tx) => {
          const files = await checkAttachable(tx, user, input.roomId, attachmentIds);
          const [row] = await queryRows<{ seq: string | number; created_at: string | Date }>(
            tx,
            sendMessageSql({ ...values, fileNames: fileNamesOf(files) }),
          );
          // Nothing sent: roll the transaction back, so no file is attached to nothing.
          if (!row) throw notSent;
          await tx
            .update(attachments)
            .set({ messageId: values.messageId })
            .where(and(inArray(attachments.id, attachmentIds), isNull(attachments.messageId)));
          return {
            seq: Number(row.seq),
            createdAt: row.created_at,
            attachments: files.map(toAttachmentView),
          };
        })
        .catch((err: unknown) => {
          if (err === notSent) return null;
          throw err;
        });
    }
  } catch (err) {
    // Two racing retries of one clientId: the loser's statement rolled back whole.
    if (!isUniqueViolation(err)) throw err;
    sent = null;
  }
  if (!sent) return whyNotSent(db, user, input);

  const message: MessageView = {
    id: values.messageId,
    roomId: input.roomId,
    seq: sent.seq,
    clientId: input.clientId,
    author: { id: user.id, displayName: user.displayName },
    body,
    replyTo: input.replyToId ? await quoteOf(db, input.roomId, input.replyToId) : null,
    createdAt: new Date(sent.createdAt).toISOString(),
    editedAt: null,
    deletedAt: null,
    reactions: [],
    attachments: sent.attachments,
  };
  return {
    message,
    event: { type: "message.created", roomId: input.roomId, seq: message.seq, message },
  };
}

/** How a message's files are kept for search (messages.file_names): their names, one a line. */
function fileNamesOf(files: ReadonlyArray<{ name: string }>): string {
  return files.map((f) => f.name).join("\n");
}

/** Thrown inside a send's transaction when the statement sent nothing, to roll it back. */
const notSent = new Error("nothing sent");

/**
 * The send statement wrote nothing: which of its conditions failed. Not a member: the
 * room does not exist for them. The clientId was used: by this sender, that was a retry,
 * answered with the original. The reply target is gone: say so. Every lookup here is a
 * query like any other, so a database failure is an error, never one of these answers.
 */
async function whyNotSent(
  db: Db,
  user: SessionUser,
  input: SendMessageInput,
): Promise<ChatOutcome> {
  await checkMember(db, user, input.roomId);
  const existing = await findByClientId(db, user, input.roomId, input.clientId);
  if (existing) return { message: existing, event: null };
  if (input.replyToId) {
    const target = await quoteOf(db, input.roomId, input.replyToId);
    if (!target || target.deleted) {
      throw badRequest("The message you are replying to no longer exists");
    }
  }
  throw new AppError("conflict", "The room changed while sending; try again");
}

/** How a reply quotes the message it answers (null: not in this room). */
async function quoteOf(
  db: Queryable,
  roomId: string,
  messageId: string,
): Promise<MessageView["replyTo"]> {
  const [row] = await db
    .select({
      id: messages.id,
      body: messages.body,
      deletedAt: messages.deletedAt,
      authorName: users.displayName,
    })
    .from(messages)
    .innerJoin(users, eq(users.id, messages.authorId))
    .where(and(eq(messages.id, messageId), eq(messages.roomId, roomId)))
    .limit(1);
  if (!row) return null;
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    authorName: row.authorName,
    excerpt: deleted ? "" : excerpt(row.body),
    deleted,
  };
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
    .select(messageColumns)
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
    sql`update ${messages} set deleted_at = now(), body = '', file_names = ''
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
