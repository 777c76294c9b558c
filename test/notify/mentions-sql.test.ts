import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@/lib/db/client";
import { queryRows } from "@/lib/db/sql";
import { mentionsRoomSql, mentionsUserSql } from "@/lib/notify/mentions-sql";
import { linkRoomMentions, mentionMarkdown, parseMentions } from "@/lib/notify/schemas";
import { openTestDatabase, testDbKinds } from "@/test/support/db";

const ADA = "0b7c1f0e-6f1a-4f57-9a53-0d7a3c1f2e11";
const BOB = "6a1d9c44-2b8e-4c0b-8f0a-5e9b7d3c2a10";
const ada = mentionMarkdown(ADA, "Ada");
const bob = mentionMarkdown(BOB, "Bob");

/** Bodies and what a mention parser must find in them: [body, mentions Ada, says @room]. */
const CASES: [string, boolean, boolean][] = [
  ["@room hi", false, true],
  ["(@room), please", false, true],
  ["é@room", false, true],
  ["@room@room", false, true],
  ["hi `@room`", false, false],
  ["```\n@room\n```", false, false],
  ["```\r\n@room\r\n```", false, false],
  ["```js\nunclosed @room", false, false],
  ["```a``` then @room", false, true],
  ["a `b\n@room` c", false, true],
  ["team@room.example", false, false],
  ["@roomy", false, false],
  ["x@room", false, false],
  [`${ada} hello`, true, false],
  [`\`${ada}\``, false, false],
  [`\`\`\`\n${ada}\n\`\`\` and ${ada}`, true, false],
  [`${bob} and ${ada}@room`, true, true],
  [`[@room](mention:${ADA})`, true, false],
  [`[@Ada](mention:${ADA}`, false, false],
  [`x [@Ada (mention:${ADA})`, false, false],
  [`${bob}`, false, false],
  ["`code` @room `more`", false, true],
];

describe.each(testDbKinds())("mentions counted in SQL on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("finds exactly what the parser finds, and the renderer links @room where they do", async () => {
    for (const [body, mentionsAda, saysRoom] of CASES) {
      const parsed = parseMentions(body);
      expect({ body, ada: parsed.userIds.includes(ADA), room: parsed.room }).toEqual({
        body,
        ada: mentionsAda,
        room: saysRoom,
      });
      const [row] = await queryRows<{ ada: boolean; room: boolean }>(
        database.db,
        sql`select ${mentionsUserSql(sql`${body}::text`, sql`${ADA}::uuid`)} as ada,
                   ${mentionsRoomSql(sql`${body}::text`)} as room`,
      );
      expect({ body, ada: row!.ada, room: row!.room }).toEqual({
        body,
        ada: mentionsAda,
        room: saysRoom,
      });
      expect({ body, linked: linkRoomMentions(body).includes("](mention:room)") }).toEqual({
        body,
        linked: saysRoom,
      });
    }
  });
});

it("links every @room outside code, and only those", () => {
  expect(linkRoomMentions("@room @room `@room`")).toBe(
    "[@room](mention:room) [@room](mention:room) `@room`",
  );
  expect(linkRoomMentions(`${ada} @room`)).toBe(`${ada} [@room](mention:room)`);
});
