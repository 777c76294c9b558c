ALTER TABLE "messages" ADD COLUMN "file_names" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, body), 'A') || setweight(to_tsvector('simple'::regconfig, file_names || ' ' || translate(file_names, '._-', '   ')), 'B')) STORED;--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("search");--> statement-breakpoint
CREATE INDEX "messages_created_at_idx" ON "messages" USING btree ("created_at");