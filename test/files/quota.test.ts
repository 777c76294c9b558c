import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { Transfers } from "@/lib/files/crypto/transfers";
import { UPLOADS_PATH } from "@/lib/files/http/upload-endpoint";
import { EncryptedUploadStore } from "@/lib/files/upload-store";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";
import { tusMetadata, tusRequest, UploadRefused, uploadFile } from "./client";
import { type FilesHarness, startFilesHarness, testSettings } from "./harness";

const KB = 1024;

describe.each(testDbKinds())("storage quotas on %s", (kind) => {
  let database: Database;
  let harness: FilesHarness;
  let roomId: string;
  let slug: string;
  let owner: SessionUser;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    harness = await startFilesHarness(
      database,
      testSettings({ userQuotaBytes: 300 * KB, roomQuotaBytes: 500 * KB, maxPendingUploads: 3 }),
    );
    owner = await createUser(database.db, "Owner");
    ({ id: roomId, slug } = (await doCreateRoom(database.db, owner, { kind: "open" })).room);
  });
  afterAll(async () => {
    await harness?.close();
    await database?.close();
  });

  const member = async (name: string) => {
    const user = await createGuest(database.db, name);
    await doJoinRoomBySlug(database.db, user, slug);
    return user;
  };
  const create = (user: SessionUser, size: number, body?: Buffer) =>
    tusRequest(
      harness,
      user,
      "POST",
      UPLOADS_PATH,
      {
        "Upload-Length": String(size),
        "Upload-Metadata": tusMetadata({ roomId, name: "f.bin" }),
        ...(body ? { "Content-Type": "application/offset+octet-stream" } : {}),
      },
      body && Uint8Array.from(body),
    );
  const errorOf = async (res: Response) =>
    ((await res.json()) as { error: { code: string; message: string } }).error;
  const staged = async () => (await readdir(path.join(harness.root, "uploads"))).length;

  it("caps a user's unfinished uploads, even when they are created all at once", async () => {
    const gus = await member("Gus");
    const results = await Promise.all(Array.from({ length: 20 }, () => create(gus, 10)));
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(3);
    const refused = results.find((r) => r.status === 429)!;
    expect(await errorOf(refused)).toEqual({
      code: "rate_limited",
      message: "You have 3 uploads unfinished; let one finish or cancel it first",
    });
    // Cancelling one makes room for another.
    const location = created[0]!.headers.get("location")!;
    expect((await tusRequest(harness, gus, "DELETE", location)).status).toBe(204);
    expect((await create(gus, 10)).status).toBe(201);
    expect((await create(gus, 10)).status).toBe(429);
  });

  it("counts a user's finished files and unfinished uploads against their quota", async () => {
    const ida = await member("Ida");
    await uploadFile(harness, ida, roomId, randomBytes(200 * KB), "big.bin");
    const before = await staged();
    const over = await create(ida, 150 * KB);
    expect(over.status).toBe(413);
    expect(await errorOf(over)).toEqual({
      code: "too_large",
      message: "Not enough storage left: your files may take 300 KB in all, and 200 KB are in use",
    });
    expect(await staged()).toBe(before);
    // Exactly what is left fits; it is reserved at once, so nothing more does.
    expect((await create(ida, 100 * KB)).status).toBe(201);
    expect((await create(ida, 1)).status).toBe(413);
  });

  it("refuses a creation-with-upload over the quota before storing a byte of it", async () => {
    const joe = await member("Joe");
    const before = await staged();
    const res = await create(joe, 301 * KB, randomBytes(301 * KB));
    expect(res.status).toBe(413);
    expect(await staged()).toBe(before);
  });

  it("caps a room's storage, whoever uploads", async () => {
    const other = await createUser(database.db, "Other");
    const { room } = await doCreateRoom(database.db, other, { kind: "open" });
    const people: SessionUser[] = [];
    for (const name of ["Kim", "Lee", "Max"]) {
      const p = await createGuest(database.db, name);
      await doJoinRoomBySlug(database.db, p, room.slug);
      people.push(p);
    }
    await uploadFile(harness, people[0]!, room.id, randomBytes(250 * KB), "a.bin");
    await uploadFile(harness, people[1]!, room.id, randomBytes(250 * KB), "b.bin");
    const refused = await uploadFile(harness, people[2]!, room.id, randomBytes(KB), "c.bin").catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(UploadRefused);
    expect((refused as UploadRefused).status).toBe(413);
    expect(JSON.parse((refused as UploadRefused).body)).toEqual({
      error: {
        code: "too_large",
        message:
          "Not enough storage left in this room: its files may take 500 KB in all, and 500 KB are in use",
      },
    });
    // The same person still has room in another room.
    await doJoinRoomBySlug(database.db, people[2]!, slug);
    expect((await create(people[2]!, KB)).status).toBe(201);
  });

  it("remembers unfinished uploads across a restart", async () => {
    const ned = await member("Ned");
    expect((await create(ned, 100 * KB)).status).toBe(201);
    const reopened = await EncryptedUploadStore.create(
      path.join(harness.root, "uploads"),
      harness.files.keys,
      60 * 60_000,
      new Transfers(),
    );
    expect(reopened.reserved({ uploaderId: ned.id })).toEqual({ count: 1, bytes: 100 * KB });
  });
});
