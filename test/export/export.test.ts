import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { and, asc, eq, isNull } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doDeleteMessage, doReact, doSendMessage } from "@/lib/chat/service";
import type { Database } from "@/lib/db/client";
import { attachments, messages } from "@/lib/db/schema";
import { type ExportDeps, personalExport, roomExport } from "@/lib/export/archive";
import { tar, type TarEntry } from "@/lib/export/tar";
import { MasterKeys } from "@/lib/files/crypto/encryption";
import { DiskStorage } from "@/lib/files/disk-storage";
import { writeObject } from "@/lib/files/objects";
import { newStorageKey } from "@/lib/files/storage";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";

const limits = { maxMessageLength: 10_000 };
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Writes the archive to disk and unpacks it with the system's tar: a reader we did not write. */
async function unpack(entries: AsyncGenerator<TarEntry>, dir: string): Promise<string> {
  const file = path.join(dir, `${crypto.randomUUID()}.tar`);
  await pipeline(Readable.from(tar(entries)), createWriteStream(file));
  const out = path.join(dir, crypto.randomUUID());
  execFileSync("mkdir", ["-p", out]);
  execFileSync("tar", ["-xf", file, "-C", out]);
  return out;
}

const jsonLines = async (file: string) =>
  (await readFile(file, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe.each(testDbKinds())("exports on %s", (kind) => {
  let database: Database;
  let deps: ExportDeps;
  let dir: string;
  let ada: SessionUser;
  let bob: SessionUser;
  let roomId: string;
  const contents = new Map<string, Buffer>(); // attachment id → plaintext

  async function share(user: SessionUser, name: string, bytes: Buffer, mimeType: string) {
    const storageKey = newStorageKey();
    await writeObject(deps.storage, deps.keys, storageKey, bytes);
    const [row] = await database.db
      .insert(attachments)
      .values({ roomId, uploaderId: user.id, name, size: bytes.length, mimeType, storageKey })
      .returning();
    contents.set(row!.id, bytes);
    return doSendMessage(
      database.db,
      user,
      { roomId, clientId: crypto.randomUUID(), body: "", attachmentIds: [row!.id] },
      limits,
    );
  }

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    dir = await mkdtemp(path.join(tmpdir(), "parley-export-test-"));
    deps = {
      db: database.db,
      storage: await DiskStorage.create(path.join(dir, "objects")),
      keys: new MasterKeys(randomBytes(32)),
      tmpDir: dir,
    };
    ada = await createUser(database.db, "Ada");
    bob = await createUser(database.db, "Bob");
    const room = await doCreateRoom(database.db, ada, { kind: "open", name: "Plans <b>&</b>" });
    roomId = room.room.id;
    await doJoinRoomBySlug(database.db, bob, room.room.slug);
    const send = (user: SessionUser, body: string, replyToId?: string) =>
      doSendMessage(
        database.db,
        user,
        { roomId, clientId: crypto.randomUUID(), body, ...(replyToId ? { replyToId } : {}) },
        limits,
      );
    const { message: first } = await send(ada, "first <script>alert(1)</script>");
    for (let i = 0; i < 1203; i++) await send(i % 3 ? bob : ada, `message ${i}`);
    await send(bob, "a reply", first.id);
    await doReact(database.db, bob, { roomId, messageId: first.id, emoji: "🎉", on: true });
    const { message: gone } = await send(ada, "deleted later");
    await doDeleteMessage(database.db, ada, { roomId, messageId: gone.id });
    const png = await readFile(path.join(process.cwd(), "app/icon.svg"));
    await share(ada, "diagram.svg", png, "image/svg+xml");
    await share(ada, "big.bin", randomBytes(3 * 1024 * 1024 + 17), "application/octet-stream");
    await share(bob, "bob's notes.txt", Buffer.from("bob wrote this"), "text/plain");
  }, 120_000);
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a person's archive holds their profile, rooms, every message and every file", async () => {
    const out = await unpack(personalExport(deps, ada.id), dir);
    const root = path.join(out, "parley-export");
    const profile = JSON.parse(await readFile(path.join(root, "profile.json"), "utf8"));
    expect(profile).toMatchObject({ id: ada.id, email: ada.email, displayName: "Ada" });
    const rooms = JSON.parse(await readFile(path.join(root, "rooms.json"), "utf8"));
    expect(rooms).toEqual([expect.objectContaining({ id: roomId, role: "owner" })]);

    const expected = await database.db
      .select({ id: messages.id, body: messages.body })
      .from(messages)
      .where(and(eq(messages.authorId, ada.id), isNull(messages.deletedAt)))
      .orderBy(asc(messages.createdAt), asc(messages.id));
    const lines = await jsonLines(path.join(root, "messages.jsonl"));
    expect(lines.map((m) => ({ id: m.id, body: m.body }))).toEqual(expected);
    expect(lines.length).toBeGreaterThan(400);

    const manifest = JSON.parse(await readFile(path.join(root, "manifest.json"), "utf8"));
    const adaFiles = await database.db
      .select()
      .from(attachments)
      .where(eq(attachments.uploaderId, ada.id));
    expect(manifest.files).toHaveLength(adaFiles.length);
    for (const row of adaFiles) {
      const entry = manifest.files.find((f: { id: string }) => f.id === row.id);
      const bytes = await readFile(path.join(root, entry.path));
      expect(sha256(bytes)).toBe(sha256(contents.get(row.id)!));
      expect(entry.sha256).toBe(sha256(contents.get(row.id)!));
    }
    // Nothing of bob's files.
    expect((await readdir(path.join(root, "files"))).length).toBe(adaFiles.length);
  });

  it("a room's archive holds every live message, replies, reactions and every file", async () => {
    const out = await unpack(roomExport(deps, roomId), dir);
    const [folder] = await readdir(out);
    const root = path.join(out, folder!);
    const expected = await database.db
      .select({ id: messages.id, body: messages.body, seq: messages.seq })
      .from(messages)
      .where(and(eq(messages.roomId, roomId), isNull(messages.deletedAt)))
      .orderBy(asc(messages.seq));
    const lines = await jsonLines(path.join(root, "messages.jsonl"));
    expect(lines.map((m) => ({ id: m.id, body: m.body, seq: m.seq }))).toEqual(expected);
    const reply = lines.find((m) => m.body === "a reply") as { replyTo: { excerpt: string } };
    expect(reply.replyTo.excerpt).toContain("first");
    const first = lines[0] as { reactions: Array<{ emoji: string; count: number }> };
    expect(first.reactions).toEqual([expect.objectContaining({ emoji: "🎉", count: 1 })]);

    const manifest = JSON.parse(await readFile(path.join(root, "manifest.json"), "utf8"));
    expect(manifest.messages).toBe(expected.length);
    expect(manifest.files).toHaveLength(3);
    for (const entry of manifest.files as Array<{ id: string; path: string; sha256: string }>) {
      const bytes = await readFile(path.join(root, entry.path));
      expect(sha256(bytes)).toBe(sha256(contents.get(entry.id)!));
      expect(entry.sha256).toBe(sha256(bytes));
    }

    const html = await readFile(path.join(root, "index.html"), "utf8");
    expect(html).toContain("<h1>Plans &lt;b&gt;&amp;&lt;/b&gt;</h1>");
    expect(html).toContain("first &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("deleted later");
    expect(html.match(/<article /g)).toHaveLength(expected.length);
    expect(html).toMatch(/<img src="files\/[0-9a-f-]+\/diagram\.svg" alt="diagram\.svg">/);
  });

  it("stops cleanly, leaving no spooled text, when the reader goes away", async () => {
    const reader = tar(roomExport(deps, roomId));
    await reader.next();
    await reader.next();
    await reader.return(undefined);
    expect((await readdir(dir)).filter((f) => f.startsWith("export-"))).toEqual([]);
  });
});
