import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { request } from "node:http";
import path from "node:path";
import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { attachments } from "@/lib/db/schema";
import { CHUNK_SIZE } from "@/lib/files/crypto/format";
import { UPLOADS_PATH } from "@/lib/files/http/upload-endpoint";
import { testDbKinds } from "@/test/support/db";
import { download, tusMetadata, tusRequest, UploadRefused, uploadFile } from "./client";
import { type FilesFixture, startFilesFixture } from "./fixture";
import { type FilesHarness, startCuttingProxy } from "./harness";
import { expectSameBytes } from "./bytes";

describe.each(testDbKinds())("uploads on %s", (kind) => {
  let database: Database;
  let harness: FilesHarness;
  let ada: SessionUser;
  let bob: SessionUser;
  let eve: SessionUser;
  let roomId: string;

  let fixture: FilesFixture;

  beforeAll(async () => {
    fixture = await startFilesFixture(kind);
    ({ database, harness, ada, bob, eve, roomId } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  const attachmentCount = async () =>
    (await database.db.select({ n: count() }).from(attachments))[0]?.n ?? 0;
  const stagedUploads = async () => readdir(path.join(harness.root, "uploads"));
  const storedObjects = async () => {
    const dir = path.join(harness.root, "objects");
    const fans = await readdir(dir);
    const all = await Promise.all(fans.map((f) => readdir(path.join(dir, f))));
    return all.flat();
  };

  /** Asserts that a refused request left nothing behind. */
  async function expectNothingChanged(action: () => Promise<void>) {
    const before = [
      await attachmentCount(),
      (await stagedUploads()).length,
      (await storedObjects()).length,
    ];
    await action();
    expect([
      await attachmentCount(),
      (await stagedUploads()).length,
      (await storedObjects()).length,
    ]).toEqual(before);
  }

  it("uploads a file, sniffs its type and stores it encrypted under a random key", async () => {
    const content = Buffer.from("plain text, whatever the client claims\n".repeat(5000));
    const { attachment } = await uploadFile(harness, ada, roomId, content, "notes.txt", {
      chunkSize: 50_000,
    });
    expect(attachment).toMatchObject({
      name: "notes.txt",
      size: content.length,
      mimeType: "text/plain", // the client said image/png
      hasThumbnail: false,
    });
    const [row] = await database.db
      .select()
      .from(attachments)
      .where(eq(attachments.id, attachment.id));
    expect(row?.storageKey).toMatch(/^[0-9a-f]{32}$/);
    expect(row?.messageId).toBeNull();
    // The uploader can read it back before sending it.
    const res = await download(harness, ada, `/api/files/${attachment.id}`);
    expect(res.status).toBe(200);
    expectSameBytes(await res.arrayBuffer(), content);
  });

  it("resumes an upload after the connection is cut, from the last byte received", async () => {
    const content = randomBytes(3 * CHUNK_SIZE + 1234);
    const proxy = await startCuttingProxy(harness.url, CHUNK_SIZE + 5000);
    const patches: number[] = [];
    harness.onRequest = (req) => {
      if (req.method === "PATCH") patches.push(Number(req.headers["upload-offset"]));
    };
    try {
      const { attachment } = await uploadFile(
        { ...harness, url: proxy.url },
        ada,
        roomId,
        content,
        "resumed.bin",
        { retryDelays: [50, 100, 200] },
      );
      expect(proxy.cuts()).toBe(1);
      expect(patches[0]).toBe(0);
      // The retry started where the server's data ended (past the first whole chunk and
      // into the partial one it kept), not at zero.
      expect(patches[1]).toBeGreaterThan(CHUNK_SIZE);
      const res = await download(harness, ada, `/api/files/${attachment.id}`);
      expectSameBytes(await res.arrayBuffer(), content);
    } finally {
      harness.onRequest = null;
      await proxy.close();
    }
  });

  it("resumes from HEAD's offset with raw requests, including a partial chunk", async () => {
    const content = randomBytes(CHUNK_SIZE + 500);
    const created = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
      "Upload-Length": String(content.length),
      "Upload-Metadata": tusMetadata({ roomId, name: "raw.bin" }),
    });
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    const first = await tusRequest(
      harness,
      ada,
      "PATCH",
      location,
      { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      content.subarray(0, 1000),
    );
    expect(first.status).toBe(204);
    expect(first.headers.get("upload-offset")).toBe("1000");
    const head = await tusRequest(harness, ada, "HEAD", location);
    expect(head.headers.get("upload-offset")).toBe("1000");
    // The wrong offset is refused without changing anything.
    const wrong = await tusRequest(
      harness,
      ada,
      "PATCH",
      location,
      { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      content.subarray(0, 10),
    );
    expect(wrong.status).toBe(409);
    const rest = await tusRequest(
      harness,
      ada,
      "PATCH",
      location,
      { "Upload-Offset": "1000", "Content-Type": "application/offset+octet-stream" },
      content.subarray(1000),
    );
    expect(rest.status).toBe(200);
    const { attachment } = (await rest.json()) as { attachment: { id: string } };
    expect(location.endsWith(attachment.id)).toBe(true);
    const res = await download(harness, ada, `/api/files/${attachment.id}`);
    expectSameBytes(await res.arrayBuffer(), content);
    // Finishing again (a lost response) returns the same attachment.
    const again = await tusRequest(harness, ada, "POST", `${location}/complete`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { attachment: { id: string } }).attachment.id).toBe(
      attachment.id,
    );
  });

  it("checks PATCH requests as tus does", async () => {
    const created = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
      "Upload-Length": "10",
      "Upload-Metadata": tusMetadata({ roomId, name: "checked.bin" }),
    });
    const location = created.headers.get("location")!;
    const octets = "application/offset+octet-stream";
    const patch = (headers: Record<string, string>) =>
      fetch(`${harness.url}${location}`, {
        method: "PATCH",
        headers: { cookie: harness.cookie(ada), ...headers },
        body: Buffer.alloc(10),
      });
    const noVersion = await patch({ "Upload-Offset": "0", "Content-Type": octets });
    expect(noVersion.status).toBe(412);
    expect(await noVersion.json()).toEqual({
      error: { code: "bad_request", message: "Tus-Resumable Required" },
    });
    const base = { "Tus-Resumable": "1.0.0" };
    const wrongType = await patch({ ...base, "Upload-Offset": "0", "Content-Type": "text/plain" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.headers.get("tus-resumable")).toBe("1.0.0");
    const badOffset = await patch({ ...base, "Upload-Offset": "-1", "Content-Type": octets });
    expect(badOffset.status).toBe(400);
    const noOffset = await patch({ ...base, "Content-Type": octets });
    expect(noOffset.status).toBe(403);
    expect(await noOffset.json()).toEqual({
      error: { code: "bad_request", message: "Upload-Offset header required" },
    });
    const tooLong = await fetch(`${harness.url}${location}`, {
      method: "PATCH",
      headers: {
        ...base,
        cookie: harness.cookie(ada),
        "Upload-Offset": "0",
        "Content-Type": octets,
      },
      body: Buffer.alloc(11),
    });
    expect(tooLong.status).toBe(413);
    const head = await tusRequest(harness, ada, "HEAD", location);
    expect(head.headers.get("upload-offset")).toBe("0");
    const done = await patch({ ...base, "Upload-Offset": "0", "Content-Type": octets });
    expect(done.status).toBe(200);
    expect(done.headers.get("upload-offset")).toBe("10");
  });

  it("hands a stalled PATCH's upload to the next request, keeping what arrived", async () => {
    const content = randomBytes(CHUNK_SIZE + 5000);
    const created = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
      "Upload-Length": String(content.length),
      "Upload-Metadata": tusMetadata({ roomId, name: "stalled.bin" }),
    });
    const location = created.headers.get("location")!;
    const sent = CHUNK_SIZE + 1234;
    // A client whose connection hangs: it declares the whole file, sends part, then nothing.
    const stalled = request(`${harness.url}${location}`, {
      method: "PATCH",
      headers: {
        cookie: harness.cookie(ada),
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": String(content.length),
      },
    });
    stalled.on("error", () => undefined);
    stalled.write(content.subarray(0, sent));
    try {
      // Give the server time to take in what was sent.
      await new Promise((resolve) => setTimeout(resolve, 500));
      // HEAD waits for the stalled request to let go of the upload, then sees all it sent.
      const head = await tusRequest(harness, ada, "HEAD", location);
      expect(head.headers.get("upload-offset")).toBe(String(sent));
      const rest = await tusRequest(
        harness,
        ada,
        "PATCH",
        location,
        { "Upload-Offset": String(sent), "Content-Type": "application/offset+octet-stream" },
        content.subarray(sent),
      );
      expect(rest.status).toBe(200);
      const { attachment } = (await rest.json()) as { attachment: { id: string } };
      const res = await download(harness, ada, `/api/files/${attachment.id}`);
      expectSameBytes(await res.arrayBuffer(), content);
    } finally {
      stalled.destroy();
    }
  });

  it("refuses a file over the size limit before storing anything", async () => {
    await expectNothingChanged(async () => {
      const err = await uploadFile(
        harness,
        ada,
        roomId,
        randomBytes(4 * 1024 * 1024 + 1),
        "big.bin",
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UploadRefused);
      expect((err as UploadRefused).status).toBe(413);
      expect(JSON.parse((err as UploadRefused).body)).toEqual({
        error: { code: "too_large", message: "Files can be at most 4 MB" },
      });
    });
  });

  it("stops a body that runs past the declared length while it streams", async () => {
    const created = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
      "Upload-Length": "1000",
      "Upload-Metadata": tusMetadata({ roomId, name: "liar.bin" }),
    });
    const location = created.headers.get("location")!;
    // Streamed without a Content-Length, so only the running count can catch it.
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(800));
        controller.enqueue(new Uint8Array(800));
        controller.close();
      },
    });
    const res = await tusRequest(
      harness,
      ada,
      "PATCH",
      location,
      { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      body,
    ).catch(() => null);
    if (res) expect([413, 200, 204]).toContain(res.status);
    const head = await tusRequest(harness, ada, "HEAD", location);
    // Never more than the declared length was kept.
    expect(Number(head.headers.get("upload-offset"))).toBeLessThanOrEqual(1000);
    await tusRequest(harness, ada, "DELETE", location);
  });

  it("refuses an empty file", async () => {
    await expectNothingChanged(async () => {
      const res = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
        "Upload-Length": "0",
        "Upload-Metadata": tusMetadata({ roomId, name: "empty.txt" }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { code: "bad_request", message: "The file is empty" },
      });
    });
  });

  it("refuses anonymous uploads, and uploads to a room the user is not in", async () => {
    await expectNothingChanged(async () => {
      const anonymous = await tusRequest(harness, null, "POST", UPLOADS_PATH, {
        "Upload-Length": "10",
        "Upload-Metadata": tusMetadata({ roomId, name: "a.txt" }),
      });
      expect(anonymous.status).toBe(401);
      const outsider = await tusRequest(harness, eve, "POST", UPLOADS_PATH, {
        "Upload-Length": "10",
        "Upload-Metadata": tusMetadata({ roomId, name: "a.txt" }),
      });
      expect(outsider.status).toBe(404);
      expect(((await outsider.json()) as { error: { message: string } }).error.message).toBe(
        "There is no such room",
      );
      const noRoom = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
        "Upload-Length": "10",
        "Upload-Metadata": tusMetadata({ name: "a.txt" }),
      });
      expect(noRoom.status).toBe(400);
    });
  });

  it("keeps an upload to its uploader: anyone else gets not-found", async () => {
    const created = await tusRequest(harness, ada, "POST", UPLOADS_PATH, {
      "Upload-Length": "100",
      "Upload-Metadata": tusMetadata({ roomId, name: "mine.txt" }),
    });
    const location = created.headers.get("location")!;
    for (const method of ["HEAD", "PATCH", "DELETE"]) {
      const res = await tusRequest(harness, bob, method, location, {
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
      });
      expect(res.status).toBe(404);
    }
    const guessed = await tusRequest(
      harness,
      ada,
      "HEAD",
      `${UPLOADS_PATH}/${crypto.randomUUID()}`,
    );
    expect(guessed.status).toBe(404);
    const traversal = await tusRequest(
      harness,
      ada,
      "HEAD",
      `${UPLOADS_PATH}/..%2F..%2Fsecrets.json`,
    );
    expect(traversal.status).toBe(404);
    // Cancelling removes the staged upload.
    const cancel = await tusRequest(harness, ada, "DELETE", location);
    expect(cancel.status).toBe(204);
    expect(await stagedUploads()).not.toContain(location.split("/").pop());
  });

  it("stores a clean name for names with paths, dots, controls and bidi characters", async () => {
    const { attachment } = await uploadFile(
      harness,
      ada,
      roomId,
      Buffer.from("x"),
      "../../etc/\u0000pass\u202Ewd\n.txt",
    );
    expect(attachment.name).toBe("_._etc_passwd .txt");
    const res = await download(harness, ada, `/api/files/${attachment.id}`);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="_._etc_passwd .txt"; filename*=UTF-8''_._etc_passwd%20.txt`,
    );
  });
});
