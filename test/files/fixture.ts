import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { openTestDatabase, type TestDbKind } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";
import { type FilesHarness, startFilesHarness } from "./harness";

/**
 * What the file-sharing tests start from: a database of `kind`, Ada's room that Bob has
 * joined, Eve who is in neither, and the files HTTP surface over it.
 */
export interface FilesFixture {
  database: Database;
  harness: FilesHarness;
  ada: SessionUser;
  bob: SessionUser;
  eve: SessionUser;
  roomId: string;
  slug: string;
  close(): Promise<void>;
}

export async function startFilesFixture(kind: TestDbKind): Promise<FilesFixture> {
  const database = await openTestDatabase(kind);
  const ada = await createUser(database.db, "Ada");
  const bob = await createUser(database.db, "Bob");
  const eve = await createGuest(database.db, "Eve");
  const { room } = await doCreateRoom(database.db, ada, { kind: "open" });
  await doJoinRoomBySlug(database.db, bob, room.slug);
  const harness = await startFilesHarness(database);
  return {
    database,
    harness,
    ada,
    bob,
    eve,
    roomId: room.id,
    slug: room.slug,
    close: async () => {
      await harness.close();
      await database.close();
    },
  };
}
