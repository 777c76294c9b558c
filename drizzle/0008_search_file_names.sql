-- Messages sent before search existed: their files' names, one a line, into file_names
-- (which the generated search column indexes). New messages get theirs when sent.
UPDATE "messages" SET "file_names" = "named"."names"
FROM (
	SELECT "message_id", string_agg("name", E'\n' ORDER BY "created_at") AS "names"
	FROM "attachments" WHERE "message_id" IS NOT NULL GROUP BY "message_id"
) AS "named"
WHERE "messages"."id" = "named"."message_id" AND "messages"."deleted_at" IS NULL;
