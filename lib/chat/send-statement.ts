import "server-only";
import { fillPlaceholders, is, Placeholder, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { preparedStatement } from "@/lib/db/prepared";
import { messages, rooms, roomEvents } from "@/lib/db/schema";
import { isMember } from "@/lib/rooms/access";

/**
 * The chat send, defined once (docs/architecture.md, "Chat delivery"). One statement takes
 * the room's next seq, inserts the message and logs its event, and does all three only
 * when the sender may send (the membership rule of lib/rooms/access.ts), the clientId is
 * unused in the room, and the message it replies to (if any) is live in the same room.
 * Otherwise it writes nothing and takes no seq, so the log stays gapless; the caller
 * works out which condition failed.
 *
 * The same definition gives both forms: the named prepared statement the hot path runs
 * (lib/db/prepared.ts; its text compiled once, with placeholders) and a Drizzle `SQL`
 * with the values bound, for a send inside a transaction (one that shares files).
 */
export interface SendValues {
  roomId: string;
  userId: string;
  clientId: string;
  messageId: string;
  body: string;
  replyToId: string | null;
  /** The names of the files it shares, one a line ('' for none): indexed for search. */
  fileNames: string;
}

type Slots = { [K in keyof SendValues]: SendValues[K] | Placeholder };

function build(v: Slots): SQL {
  return sql`with next as (
      update ${rooms} set last_seq = last_seq + 1
      where ${rooms.id} = ${v.roomId}
        and ${isMember(v.roomId, v.userId)}
        and not exists (
          select 1 from ${messages}
          where ${messages.roomId} = ${v.roomId} and ${messages.clientId} = ${v.clientId})
        and (${v.replyToId}::uuid is null or exists (
          select 1 from ${messages}
          where ${messages.id} = ${v.replyToId}::uuid and ${messages.roomId} = ${v.roomId}
            and ${messages.deletedAt} is null))
      returning last_seq
    ), created as (
      insert into ${messages} (id, room_id, author_id, client_id, seq, body, reply_to_id,
        file_names)
      select ${v.messageId}, ${v.roomId}, ${v.userId}, ${v.clientId}, next.last_seq, ${v.body},
        ${v.replyToId}::uuid, ${v.fileNames}
      from next
      returning seq, created_at
    ), logged as (
      insert into ${roomEvents} (room_id, seq, type, actor_id, message_id)
      select ${v.roomId}, created.seq, 'message.created', ${v.userId}, ${v.messageId} from created
    )
    select seq, created_at from created`;
}

const slots = Object.fromEntries(
  (["roomId", "userId", "clientId", "messageId", "body", "replyToId", "fileNames"] as const).map(
    (name) => [name, sql.placeholder(name)],
  ),
) as Slots;
const compiled = new PgDialect().sqlToQuery(build(slots));
if (!compiled.params.every((p) => is(p, Placeholder))) {
  throw new Error("the send statement binds a value that is not one of its placeholders");
}

/** The prepared form: its text, with a parameter per placeholder occurrence. */
export const sendMessageStatement = preparedStatement("parley_send_message", compiled.sql);

/** The prepared form's parameter values, in its order. */
export function sendMessageParams(values: SendValues): Array<string | null> {
  return fillPlaceholders(compiled.params, { ...values }) as Array<string | null>;
}

/** The Drizzle form: the same statement with the values bound, to run on a transaction. */
export function sendMessageSql(values: SendValues): SQL {
  return build(values);
}
