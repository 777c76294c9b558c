/**
 * Bulk data for the benchmarks that need a big room (bench/export.ts, bench/backup.ts):
 * messages written by one statement, and stored files written through the same
 * encryption path as uploads, each with its attachment row.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { attachments } from "@/lib/db/schema";
import type { MasterKeys } from "@/lib/files/crypto/encryption";
import type { DiskStorage } from "@/lib/files/disk-storage";
import { writeObject } from "@/lib/files/objects";
import { newStorageKey } from "@/lib/files/storage";

const MB = 1024 * 1024;
/** Files are written in pieces of this size (the last one smaller). */
export const SEED_FILE_SIZE = 64 * MB;

/**
 * Messages 1..count in a room, by one author, bodies of 20 to 250 characters, with their
 * room events and the room's last seq, as if they had been sent.
 */
export async function seedMessages(
  db: Db,
  room: { roomId: string; authorId: string; count: number },
): Promise<void> {
  await db.execute(sql`
    insert into messages (room_id, author_id, client_id, seq, body)
    select ${room.roomId}, ${room.authorId}, gen_random_uuid(), n,
           'Message ' || n || ': ' || repeat('lorem ipsum ', 1 + n % 20)
    from generate_series(1, ${room.count}) as n`);
  await db.execute(sql`
    insert into room_events (room_id, seq, type, actor_id, message_id)
    select room_id, seq, 'message.created', author_id, id
    from messages where room_id = ${room.roomId}`);
  await db.execute(sql`update rooms set last_seq = ${room.count} where id = ${room.roomId}`);
}

/** `totalBytes` of random-content files in a room, stored encrypted, in SEED_FILE_SIZE pieces. */
export async function seedFiles(
  db: Db,
  files: {
    storage: DiskStorage;
    keys: MasterKeys;
    roomId: string;
    uploaderId: string;
    totalBytes: number;
  },
): Promise<void> {
  const chunk = randomBytes(MB);
  for (let written = 0, i = 0; written < files.totalBytes; i++) {
    const size = Math.min(SEED_FILE_SIZE, files.totalBytes - written);
    const key = newStorageKey();
    await writeObject(
      files.storage,
      files.keys,
      key,
      Readable.from(
        (function* () {
          for (let left = size; left > 0; left -= MB) yield chunk.subarray(0, Math.min(MB, left));
        })(),
      ),
    );
    await db.insert(attachments).values({
      roomId: files.roomId,
      uploaderId: files.uploaderId,
      name: `file-${i}.bin`,
      size,
      mimeType: "application/octet-stream",
      storageKey: key,
    });
    written += size;
  }
}
