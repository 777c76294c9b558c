import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { onMessageDeleted } from "@/lib/chat/hooks";
import { doDeleteMessage, doSendMessage } from "@/lib/chat/service";
import type { Database } from "@/lib/db/client";
import { attachments } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
import {
  doDeleteMessageFiles,
  doRemoveUnsentFile,
  sweepAbandonedFiles,
} from "@/lib/files/lifecycle";
import { queryRoomFiles } from "@/lib/files/queries";
import { newStorageKey } from "@/lib/files/storage";
import { UPLOADS_PATH } from "@/lib/files/http/upload-endpoint";
import { testDbKinds } from "@/test/support/db";
import { download, tusMetadata, tusRequest, uploadFile } from "./client";
import { type FilesFixture, startFilesFixture } from "./fixture";
import { type FilesHarness } from "./harness";

describe.each(testDbKinds())("file lifecycle on %s", (kind) => {
  let database: Database;
  let harness: FilesHarness;
  let ada: SessionUser;
  let bob: SessionUser;
  let eve: SessionUser;
  let roomId: string;
  let slug: string;
  let stopHook: () => void;

  let fixture: FilesFixture;

  beforeAll(async () => {
    fixture = await startFilesFixture(kind);
    ({ database, harness, ada, bob, eve, roomId, slug } = fixture);
    // What createFilesFeature registers in the app.
    stopHook = onMessageDeleted(({ messageId }) =>
      doDeleteMessageFiles(harness.files, messageId).then(() => undefined),
    );
  });
  afterAll(async () => {
    stopHook?.();
    await fixture?.close();
  });

  const objects = async () => {
    const dir = path.join(harness.root, "objects");
    const fans = await readdir(dir);
    return (await Promise.all(fans.map((f) => readdir(path.join(dir, f))))).flat();
  };
  const rowOf = async (id: string) =>
    (await database.db.select().from(attachments).where(eq(attachments.id, id)))[0] ?? null;

  async function send(user: SessionUser, ids: string[], body = "") {
    const { message } = await doSendMessage(
      database.db,
      user,
      { roomId, clientId: crypto.randomUUID(), body, attachmentIds: ids },
      { maxMessageLength: 4000 },
    );
    return message;
  }

  it("removes a message's files, rows and stored bytes, when the message is deleted", async () => {
    const a = (await uploadFile(harness, bob, roomId, randomBytes(1000), "a.bin")).attachment;
    const b = (await uploadFile(harness, bob, roomId, randomBytes(1000), "b.bin")).attachment;
    const message = await send(bob, [a.id, b.id], "two files");
    expect(message.attachments.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    const keys = [(await rowOf(a.id))!.storageKey, (await rowOf(b.id))!.storageKey];
    expect(await objects()).toEqual(expect.arrayContaining(keys));

    await doDeleteMessage(database.db, bob, { roomId, messageId: message.id });
    expect(await rowOf(a.id)).toBeNull();
    expect(await rowOf(b.id)).toBeNull();
    const left = await objects();
    for (const key of keys) expect(left).not.toContain(key);
    expect((await download(harness, ada, `/api/files/${a.id}`)).status).toBe(404);
  });

  it("lets the uploader take back an unsent file, and nobody else", async () => {
    const { attachment } = await uploadFile(harness, ada, roomId, randomBytes(10), "oops.bin");
    await expect(doRemoveUnsentFile(harness.files, bob, attachment.id)).rejects.toThrow(AppError);
    expect(await rowOf(attachment.id)).not.toBeNull();
    await doRemoveUnsentFile(harness.files, ada, attachment.id);
    expect(await rowOf(attachment.id)).toBeNull();

    const sent = (await uploadFile(harness, ada, roomId, randomBytes(10), "sent.bin")).attachment;
    await send(ada, [sent.id]);
    await expect(doRemoveUnsentFile(harness.files, ada, sent.id)).rejects.toThrow(AppError);
  });

  it("answers DELETE /api/files/<id> where GET is answered, with the route handlers' checks", async () => {
    const { attachment } = await uploadFile(harness, ada, roomId, randomBytes(10), "take.bin");
    const url = `${harness.url}/api/files/${attachment.id}`;
    const del = (user: SessionUser | null, headers: Record<string, string> = {}) =>
      fetch(url, {
        method: "DELETE",
        headers: { ...(user ? { cookie: harness.cookie(user) } : {}), ...headers },
      });
    const errorOf = async (res: Response) => ({ status: res.status, ...(await res.json()) });

    expect(await errorOf(await del(null))).toEqual({
      status: 401,
      error: { code: "unauthorized", message: "Sign in first" },
    });
    // A page on another site may not take it back, even with the uploader's cookie.
    expect(await errorOf(await del(ada, { Origin: "https://evil.example" }))).toEqual({
      status: 403,
      error: { code: "forbidden", message: "Requests from other sites are not accepted" },
    });
    expect(await errorOf(await del(ada, { "Sec-Fetch-Site": "cross-site" }))).toMatchObject({
      status: 403,
    });
    const notYours = { code: "not_found", message: "There is no such unsent file" };
    expect(await errorOf(await del(bob))).toEqual({ status: 404, error: notYours });
    const malformed = await fetch(`${harness.url}/api/files/not-an-id`, {
      method: "DELETE",
      headers: { cookie: harness.cookie(ada) },
    });
    expect(await errorOf(malformed)).toEqual({ status: 404, error: notYours });
    expect(await rowOf(attachment.id)).not.toBeNull();
    expect((await download(harness, ada, `/api/files/${attachment.id}`)).status).toBe(200);

    const taken = await del(ada, { Origin: harness.url });
    expect(taken.status).toBe(204);
    expect(await rowOf(attachment.id)).toBeNull();
    expect((await download(harness, ada, `/api/files/${attachment.id}`)).status).toBe(404);
    expect((await del(ada)).status).toBe(404);

    // Other methods are refused where they land, not passed on.
    const post = await fetch(url, { method: "POST", headers: { cookie: harness.cookie(ada) } });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD, DELETE");
  });

  it("sweeps abandoned uploads, unsent files and orphaned objects after the expiry, and nothing else", async () => {
    const kept = (await uploadFile(harness, ada, roomId, randomBytes(100), "kept.bin")).attachment;
    await send(ada, [kept.id]);
    const unsent = (await uploadFile(harness, ada, roomId, randomBytes(100), "unsent.bin"))
      .attachment;
    const created = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
      "Upload-Length": "5000",
      "Upload-Metadata": tusMetadata({ roomId, name: "half.bin" }),
    });
    const halfway = created.headers.get("location")!;
    await tusRequest(
      harness,
      ada,
      "PATCH",
      halfway,
      { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      randomBytes(2000),
    );
    const orphan = newStorageKey();
    await harness.files.storage.write(orphan, randomBytes(10));

    // Before the expiry, nothing goes.
    expect(await sweepAbandonedFiles(harness.files)).toEqual({
      expiredUploads: 0,
      unsentFiles: 0,
      orphanObjects: 0,
    });

    const later = Date.now() + harness.files.settings.uploadExpiryMs + 60_000;
    const result = await sweepAbandonedFiles(harness.files, later);
    expect(result.expiredUploads).toBeGreaterThanOrEqual(1);
    expect(result.unsentFiles).toBeGreaterThanOrEqual(1);
    expect(result.orphanObjects).toBeGreaterThanOrEqual(1);
    expect(await rowOf(unsent.id)).toBeNull();
    expect((await tusRequest(harness, ada, "HEAD", halfway)).status).toBe(404);
    expect(await objects()).not.toContain(orphan);
    const res = await download(harness, bob, `/api/files/${kept.id}`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(100);
  });

  it("lists the room's shared files, and shows storage use to the owner only", async () => {
    const a = (await uploadFile(harness, bob, roomId, Buffer.from("hello"), "hello.txt"))
      .attachment;
    await send(bob, [a.id]);
    const forOwner = await queryRoomFiles(database.db, ada, slug, null);
    expect(forOwner?.files[0]).toMatchObject({ id: a.id, name: "hello.txt", uploaderName: "Bob" });
    expect(forOwner?.usage?.files).toBeGreaterThanOrEqual(1);
    expect(forOwner?.usage?.bytes).toBeGreaterThanOrEqual(5);
    const forMember = await queryRoomFiles(database.db, bob, slug, null);
    expect(forMember?.files.map((f) => f.id)).toContain(a.id);
    expect(forMember?.usage).toBeNull();
    expect(await queryRoomFiles(database.db, eve, slug, null)).toBeNull();
  });

  it("pages the Files view by cursor without gaps or repeats", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          uploadFile(harness, ada, roomId, Buffer.from(`file ${i}-${j}`), `f${i}-${j}.txt`),
        ),
      );
      const batchIds = batch.map((b) => b.attachment.id);
      for (let k = 0; k < batchIds.length; k += 10) await send(ada, batchIds.slice(k, k + 10));
      ids.push(...batchIds);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await queryRoomFiles(database.db, ada, slug, cursor);
      seen.push(...page!.files.map((f) => f.id));
      cursor = page!.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
  });
});
