import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doSendMessage } from "@/lib/chat/service";
import type { Database } from "@/lib/db/client";
import { attachments } from "@/lib/db/schema";
import { CHUNK_SIZE, chunkOffset } from "@/lib/files/crypto/format";
import { doCreateRoom } from "@/lib/rooms/service";
import { testDbKinds } from "@/test/support/db";
import { download, uploadFile } from "./client";
import { type FilesFixture, startFilesFixture } from "./fixture";
import { type FilesHarness } from "./harness";
import { expectSameBytes } from "./bytes";

describe.each(testDbKinds())("downloads on %s", (kind) => {
  let database: Database;
  let harness: FilesHarness;
  let ada: SessionUser;
  let bob: SessionUser;
  let eve: SessionUser;
  let roomId: string;
  let otherRoomId: string;

  let fixture: FilesFixture;

  beforeAll(async () => {
    fixture = await startFilesFixture(kind);
    ({ database, harness, ada, bob, eve, roomId } = fixture);
    otherRoomId = (await doCreateRoom(database.db, eve, { kind: "open" })).room.id;
  });
  afterAll(async () => {
    await fixture?.close();
  });

  /** Uploads as `user` and sends it in a message, as the composer does. */
  async function share(user: SessionUser, content: Buffer, name: string, room = roomId) {
    const { attachment } = await uploadFile(harness, user, room, content, name);
    await doSendMessage(
      database.db,
      user,
      { roomId: room, clientId: crypto.randomUUID(), body: "", attachmentIds: [attachment.id] },
      { maxMessageLength: 4000 },
    );
    return attachment;
  }

  const objectFile = async (attachmentId: string) => {
    const [row] = await database.db
      .select()
      .from(attachments)
      .where(eq(attachments.id, attachmentId));
    return path.join(harness.root, "objects", row!.storageKey.slice(0, 2), row!.storageKey);
  };

  it("serves a shared file to every member, byte for byte, with safe headers", async () => {
    const content = randomBytes(2 * CHUNK_SIZE + 99);
    const attachment = await share(ada, content, "data.bin");
    const res = await download(harness, bob, `/api/files/${attachment.id}`);
    expect(res.status).toBe(200);
    expectSameBytes(await res.arrayBuffer(), content);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-length")).toBe(String(content.length));
    expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
  });

  it("refuses non-members, anonymous users, guessed and malformed ids alike", async () => {
    const attachment = await share(ada, Buffer.from("secret"), "secret.txt");
    const eveRes = await download(harness, eve, `/api/files/${attachment.id}`);
    expect(eveRes.status).toBe(404);
    const anonymous = await download(harness, null, `/api/files/${attachment.id}`);
    expect(anonymous.status).toBe(401);
    const guessed = await download(harness, bob, `/api/files/${crypto.randomUUID()}`);
    expect(guessed.status).toBe(404);
    // A non-member's answer is the same as for a file that does not exist.
    expect(await eveRes.json()).toEqual(await guessed.json());
    for (const bad of ["not-a-uuid", `${attachment.id}x`, "..%2F..%2Fsecrets.json"]) {
      expect((await download(harness, bob, `/api/files/${bad}`)).status).toBe(404);
    }
    const thumbnail = await download(harness, bob, `/api/files/${attachment.id}/thumbnail`);
    expect(thumbnail.status).toBe(404);
  });

  it("shows a file not yet sent only to its uploader", async () => {
    const { attachment } = await uploadFile(
      harness,
      ada,
      roomId,
      Buffer.from("draft"),
      "draft.txt",
    );
    expect((await download(harness, ada, `/api/files/${attachment.id}`)).status).toBe(200);
    expect((await download(harness, bob, `/api/files/${attachment.id}`)).status).toBe(404);
  });

  it("serves single byte ranges, for seeking", async () => {
    const content = randomBytes(3 * CHUNK_SIZE + 10);
    const attachment = await share(ada, content, "video.bin");
    const url = `/api/files/${attachment.id}`;
    const cases: [string, number, number][] = [
      ["bytes=0-0", 0, 0],
      ["bytes=100-199", 100, 199],
      [`bytes=${CHUNK_SIZE - 5}-${CHUNK_SIZE + 5}`, CHUNK_SIZE - 5, CHUNK_SIZE + 5],
      [`bytes=${2 * CHUNK_SIZE}-`, 2 * CHUNK_SIZE, content.length - 1],
      ["bytes=-10", content.length - 10, content.length - 1],
      [`bytes=5-${content.length + 1000}`, 5, content.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await download(harness, bob, url, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/${content.length}`);
      expectSameBytes(await res.arrayBuffer(), content.subarray(start, end + 1));
    }
    const unsatisfiable = await download(harness, bob, url, { range: `bytes=${content.length}-` });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get("content-range")).toBe(`bytes */${content.length}`);
    // A stale If-Range gets the whole file.
    const stale = await download(harness, bob, url, { range: "bytes=0-9", "if-range": '"other"' });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const head = await fetch(`${harness.url}${url}`, {
      method: "HEAD",
      headers: { cookie: harness.cookie(bob), range: "bytes=0-9" },
    });
    expect(head.status).toBe(206);
    expect(head.headers.get("content-length")).toBe("10");
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const etag = stale.headers.get("etag")!;
    expect((await download(harness, bob, url, { "if-none-match": etag })).status).toBe(304);
  });

  it("stops decrypting when the client goes away mid-download", async () => {
    const content = randomBytes(3 * CHUNK_SIZE + 10);
    const attachment = await share(ada, content, "abandoned.bin");
    const aborted = new AbortController();
    const res = await fetch(`${harness.url}/api/files/${attachment.id}`, {
      headers: { cookie: harness.cookie(bob) },
      signal: aborted.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    aborted.abort();
    await reader.read().catch(() => undefined);
    await expect.poll(() => harness.files.transfers.running, { timeout: 5000 }).toBe(0);
    // And the next download is whole.
    const again = await download(harness, bob, `/api/files/${attachment.id}`);
    expectSameBytes(await again.arrayBuffer(), content);
  });

  it("never serves HTML or SVG inline, whatever the client called them", async () => {
    const html = await share(
      ada,
      Buffer.from("<!doctype html><script>alert(1)</script>"),
      "page.png",
    );
    const svg = await share(
      ada,
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
      "x.svg",
    );
    for (const [attachment, type] of [
      [html, "text/html"],
      [svg, "image/svg+xml"],
    ] as const) {
      expect(attachment.mimeType).toBe(type);
      const res = await download(harness, bob, `/api/files/${attachment.id}`);
      expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
      expect(res.headers.get("content-security-policy")).toContain("sandbox");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("shows raster images, audio, video and PDF inline unless asked to download", async () => {
    const pdf = await share(
      ada,
      Buffer.from("%PDF-1.4\n%âãÏÓ\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
      "doc.pdf",
    );
    expect(pdf.mimeType).toBe("application/pdf");
    const inline = await download(harness, bob, `/api/files/${pdf.id}`);
    expect(inline.headers.get("content-disposition")).toMatch(/^inline;/);
    expect(inline.headers.get("content-security-policy")).not.toContain("sandbox");
    const forced = await download(harness, bob, `/api/files/${pdf.id}?download=1`);
    expect(forced.headers.get("content-disposition")).toMatch(/^attachment;/);
  });

  it("refuses a file whose stored bytes were tampered with", async () => {
    const content = randomBytes(3 * CHUNK_SIZE);
    const header = await share(ada, content, "header.bin");
    const file = await objectFile(header.id);
    const bytes = await readFile(file);
    bytes[30]! ^= 1;
    await writeFile(file, bytes);
    const res = await download(harness, bob, `/api/files/${header.id}`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: { code: "internal", message: "This file is damaged on the server" },
    });

    const chunk = await share(ada, content, "chunk.bin");
    const chunkFile = await objectFile(chunk.id);
    const chunkBytes = await readFile(chunkFile);
    chunkBytes[chunkOffset(2) + 10]! ^= 1;
    await writeFile(chunkFile, chunkBytes);
    // The damage is found mid-stream: the download breaks off instead of completing.
    const broken = await download(harness, bob, `/api/files/${chunk.id}`);
    await expect(broken.arrayBuffer()).rejects.toThrow();
    // Ranges clear of the damaged chunk still serve.
    const fine = await download(harness, bob, `/api/files/${chunk.id}`, { range: "bytes=0-99" });
    expectSameBytes(await fine.arrayBuffer(), content.subarray(0, 100));
  });

  it("keeps another room's files out of reach of this room's members", async () => {
    const theirs = await share(eve, Buffer.from("eve's"), "eve.txt", otherRoomId);
    expect((await download(harness, ada, `/api/files/${theirs.id}`)).status).toBe(404);
    expect((await download(harness, eve, `/api/files/${theirs.id}`)).status).toBe(200);
  });
});
