CREATE TABLE "call_rings" (
	"room_id" uuid PRIMARY KEY NOT NULL,
	"rung_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "call_rings" ADD CONSTRAINT "call_rings_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;