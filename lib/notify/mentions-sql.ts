import "server-only";
import { type SQL, sql } from "drizzle-orm";
import { MENTION_SYNTAX } from "./schemas";

/**
 * parseMentions (lib/notify/schemas.ts) in SQL, for counting and mailing mentions in the
 * database without reading every message out: the same pattern sources (MENTION_SYNTAX),
 * cut out in the same order, each cut leaving a line break. test/notify/mentions-sql.test.ts
 * holds both to the same answers.
 */

const NEWLINE = "\n";
const [LINK_BEFORE_ID, LINK_AFTER_ID] = MENTION_SYNTAX.link.split("([0-9a-f-]{36})") as [
  string,
  string,
];

/** The body without code blocks and code spans. */
function outsideCode(body: SQL): SQL {
  return sql`regexp_replace(regexp_replace(${body}, ${MENTION_SYNTAX.codeBlock}, ${NEWLINE}, 'g'),
    ${MENTION_SYNTAX.codeSpan}, ${NEWLINE}, 'g')`;
}

/** Whether the message `body` mentions the user `userId` (a uuid), outside code. */
export function mentionsUserSql(body: SQL, userId: SQL): SQL {
  return sql`(strpos(${body}, '](mention:' || ${userId}::text || ')') > 0
    and ${outsideCode(body)} ~ (${LINK_BEFORE_ID} || ${userId}::text || ${LINK_AFTER_ID}))`;
}

/** Whether the message `body` says `@room`, outside code and mention links. */
export function mentionsRoomSql(body: SQL): SQL {
  return sql`(strpos(${body}, '@room') > 0
    and regexp_replace(${outsideCode(body)}, ${MENTION_SYNTAX.link}, ${NEWLINE}, 'g')
      ~ ${MENTION_SYNTAX.room})`;
}
