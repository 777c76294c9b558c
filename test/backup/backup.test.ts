import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { and, asc, eq, lte } from "drizzle-orm";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import {
  adminRequest,
  OBJECTS_HEADER,
  snapshotFromNode,
  startAdminChannel,
  SUMMARY_TRAILER,
} from "@/lib/backup/admin";
import { backupArchive, type SnapshotHalf } from "@/lib/backup/archive";
import { type BackupManifest, type BackupSummary, entryNames } from "@/lib/backup/format";
import { restoreBackup } from "@/lib/backup/restore";
import type { SyncPage } from "@/lib/chat/schemas";
import { doSendMessage } from "@/lib/chat/service";
import { type Database, openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { attachments, messages, roomEvents, roomMembers, rooms } from "@/lib/db/schema";
import { tar, type TarEntry, untar } from "@/lib/export/tar";
import { DiskStorage } from "@/lib/files/disk-storage";
import { openObject, writeObject } from "@/lib/files/objects";
import { openFiles } from "@/lib/files/node";
import type { Files } from "@/lib/files/service";
import { newStorageKey } from "@/lib/files/storage";
import { doCreateRoom, doJoinRoomBySlug, doRenameRoom } from "@/lib/rooms/service";
import { loadSecrets } from "@/lib/server/secrets";
import { TEST_SECRETS } from "@/test/support/config";
import { type TestDbKind, testDbKinds } from "@/test/support/db";
import { createGuest } from "@/test/support/fixtures";
import { ask, startRealtimeServer, type RealtimeHarness } from "@/test/support/realtime-server";
import { testSettings } from "@/test/files/harness";
import { runCli } from "./cli";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const CLIENTS = 20;
const TRICKY = "tab\there\nnew line\r\n back\\slash \\N \\\\. ünïcødé 🎉 'quote' \"double\" \u0001";

/** A database of its own on the test Postgres, created here and dropped by `drop()`. */
async function scratchPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `parley_backup_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

describe.each(testDbKinds())("backup and restore on %s", (kind: TestDbKind) => {
  let dir: string;
  let dataDir: string;
  let database: Database;
  let server: RealtimeHarness;
  let files: Files;
  let closeAdmin: () => Promise<void>;
  let source: { url: string; drop(): Promise<void> } | null = null;
  const targets: Array<{ drop(): Promise<void> }> = [];
  const secrets = { ...TEST_SECRETS, filesMasterKey: randomBytes(32).toString("hex") };
  let roomId: string;
  let users: SessionUser[];
  const contents = new Map<string, string>(); // attachment id → sha256 of its plaintext

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "parley-backup-test-"));
    dataDir = path.join(dir, "data");
    await mkdir(dataDir, { mode: 0o700 });
    if (kind === "pglite") {
      database = await openDatabase({ kind: "pglite", dataDir: path.join(dataDir, "pglite") });
    } else {
      source = await scratchPostgres();
      database = await openDatabase({ kind: "postgres", url: source.url, max: 10 });
    }
    await migrateDatabase(database);
    server = await startRealtimeServer(kind, { CHAT_RATE_POINTS: "100000" }, { database });
    files = await openFiles({
      db: database.db,
      root: path.join(dataDir, "files"),
      masterKeyHex: secrets.filesMasterKey,
      settings: testSettings(),
    });
    closeAdmin = (
      await startAdminChannel({ dataDir, database, files, secrets, keySource: "data-dir" })
    ).close;

    users = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => createGuest(database.db, `Sender ${i}`)),
    );
    const { room } = await doCreateRoom(database.db, users[0]!, { kind: "open", name: "Backups" });
    roomId = room.id;
    for (const user of users.slice(1)) await doJoinRoomBySlug(database.db, user, room.slug);
    // Text that needs escaping on the way (COPY, JSON) and a jsonb payload (the rename's).
    await doSendMessage(
      database.db,
      users[2]!,
      { roomId, clientId: crypto.randomUUID(), body: TRICKY },
      { maxMessageLength: 4000 },
    );
    await doRenameRoom(database.db, users[0]!, roomId, 'Backups\t\\N "quoted"');
    // Files shared in messages: one over several 1 MiB chunks, one empty, one small.
    for (const [i, bytes] of [
      randomBytes(2 * 1024 * 1024 + 5),
      Buffer.alloc(0),
      randomBytes(999),
    ].entries()) {
      const storageKey = newStorageKey();
      await writeObject(files.storage, files.keys, storageKey, bytes);
      const [row] = await database.db
        .insert(attachments)
        .values({
          roomId,
          uploaderId: users[i]!.id,
          name: `file-${i}.bin`,
          size: bytes.length,
          mimeType: "application/octet-stream",
          storageKey,
        })
        .returning();
      contents.set(row!.id, sha256(bytes));
      await doSendMessage(
        database.db,
        users[i]!,
        { roomId, clientId: crypto.randomUUID(), body: "", attachmentIds: [row!.id] },
        { maxMessageLength: 4000 },
      );
    }
  }, 120_000);

  afterAll(async () => {
    await closeAdmin?.();
    await files?.transfers.close();
    await server?.close();
    await database?.close();
    await source?.drop();
    for (const target of targets) await target.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a backup taken while 20 clients send restores every message acked before it began, and the files byte for byte", async () => {
    const sockets = await Promise.all(users.map((user) => server.client(user)));
    await Promise.all(sockets.map((s) => ask(s, "room.subscribe", { roomId })));
    const acked: Array<{ clientId: string; body: string; at: number }> = [];
    let sending = true;
    const senders = sockets.map(async (socket, i) => {
      for (let n = 0; sending; n++) {
        const clientId = crypto.randomUUID();
        const body = `client ${i} message ${n}`;
        const answer = await ask(socket, "message.send", { roomId, clientId, body });
        if (answer.ok) acked.push({ clientId, body, at: performance.now() });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    // A read position to carry over.
    const [last] = await database.db
      .select({ seq: rooms.lastSeq })
      .from(rooms)
      .where(eq(rooms.id, roomId));
    expect((await ask(sockets[1]!, "read.mark", { roomId, seq: last!.seq })).ok).toBe(true);
    while (acked.length < 200) await new Promise((resolve) => setTimeout(resolve, 20));

    const started = performance.now();
    const before = acked.filter((m) => m.at < started);
    const file = path.join(dir, "parley.backup");
    const backup = await runCli("backup", [file], { DATA_DIR: dataDir });
    const sentDuring = acked.length - before.length;
    sending = false;
    await Promise.all(senders);
    expect(backup.stderr).toContain("INCLUDES the secrets");
    expect(backup.code, backup.stderr).toBe(0);
    expect(sentDuring).toBeGreaterThan(0); // the clients were sending while it ran

    const restoredDir = path.join(dir, "restored");
    const env: Record<string, string> = { DATA_DIR: restoredDir };
    if (kind === "postgres") {
      const target = await scratchPostgres();
      targets.push(target);
      env.DATABASE_URL = target.url;
    }
    const restore = await runCli("restore", [file], env);
    expect(restore.code, restore.stderr).toBe(0);

    // Start on it as the app does: open, migrate (nothing to do), the files with its secrets.
    const restored = await openDatabase(
      kind === "pglite"
        ? { kind: "pglite", dataDir: path.join(restoredDir, "pglite") }
        : { kind: "postgres", url: env.DATABASE_URL! },
    );
    const restoredSecrets = loadSecrets(restoredDir);
    expect(restoredSecrets.filesMasterKey).toBe(secrets.filesMasterKey);
    const restoredFiles = await openFiles({
      db: restored.db,
      root: path.join(restoredDir, "files"),
      masterKeyHex: restoredSecrets.filesMasterKey,
      settings: testSettings(),
    });
    try {
      await migrateDatabase(restored);
      const rows = await restored.db
        .select({ clientId: messages.clientId, body: messages.body, seq: messages.seq })
        .from(messages)
        .where(eq(messages.roomId, roomId))
        .orderBy(asc(messages.seq));
      // Read back as a client catches up: the realtime server on the restored database.
      const app = await startRealtimeServer(kind, {}, { database: restored });
      try {
        const reader = await app.client(users[1]!);
        const synced = new Map<string, string>();
        for (let after = 0, more = true; more;) {
          const answer = await ask(reader, "room.sync", { roomId, afterSeq: after });
          expect(answer.ok).toBe(true);
          const page = answer.data as SyncPage;
          for (const event of page.events)
            if (event.type === "message.created")
              synced.set(event.message.clientId, event.message.body);
          after = page.throughSeq;
          more = page.hasMore;
        }
        for (const m of before) expect(synced.get(m.clientId)).toBe(m.body);
      } finally {
        await app.close();
      }
      // One snapshot: the room's log is whole up to its last seq, with nothing past it.
      const [room] = await restored.db.select().from(rooms).where(eq(rooms.id, roomId));
      const log = await restored.db
        .select({ seq: roomEvents.seq })
        .from(roomEvents)
        .where(eq(roomEvents.roomId, roomId))
        .orderBy(asc(roomEvents.seq));
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
      expect(log.at(-1)!.seq).toBe(room!.lastSeq);
      expect(rows.at(-1)!.seq).toBeLessThanOrEqual(room!.lastSeq);
      const original = await database.db
        .select({ id: messages.id, body: messages.body })
        .from(messages)
        .where(and(eq(messages.roomId, roomId)))
        .orderBy(asc(messages.seq))
        .limit(rows.length);
      expect(original.map((m) => m.body)).toEqual(rows.map((r) => r.body));
      expect(rows.map((r) => r.body)).toContain(TRICKY);
      // Every table as the source had it, up to the snapshot (events and all, jsonb too).
      const events = (db: Database) =>
        db.db
          .select()
          .from(roomEvents)
          .where(and(eq(roomEvents.roomId, roomId), lte(roomEvents.seq, room!.lastSeq)))
          .orderBy(asc(roomEvents.seq));
      expect(await events(restored)).toEqual(await events(database));
      expect((await events(restored)).some((e) => e.type === "room.renamed")).toBe(true);

      const [reader] = await restored.db
        .select({ seq: roomMembers.lastReadSeq })
        .from(roomMembers)
        .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, users[1]!.id)));
      expect(reader!.seq).toBe(last!.seq);

      const shared = await restored.db.select().from(attachments);
      expect(shared.map((a) => a.id).sort()).toEqual([...contents.keys()].sort());
      for (const row of shared) {
        const object = await openObject(restoredFiles.storage, restoredFiles.keys, row.storageKey);
        const chunks: Buffer[] = [];
        for await (const chunk of object.read() as AsyncIterable<Buffer>) chunks.push(chunk);
        expect(sha256(Buffer.concat(chunks))).toBe(contents.get(row.id));
      }
    } finally {
      await restoredFiles.transfers.close();
      await restored.close();
    }

    // The same archive again: the target is no longer empty, and nothing changes.
    await expect(
      restoreBackup(createReadStream(file), {
        dataDir: path.join(dir, "elsewhere"),
        ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { dataDir: restoredDir }),
      }),
    ).rejects.toThrow(kind === "pglite" ? /DATA_DIR .* is not empty/ : /database is not empty/);
  }, 120_000);

  if (kind === "pglite") {
    it("refuses a truncated, a damaged or a wrong-version archive and leaves the target as it was", async () => {
      // Through the node's admin channel, as the CLI asks for it.
      const response = await adminRequest(dataDir, "/backup", { includeSecrets: false });
      expect(response!.statusCode).toBe(200);
      const parts: Buffer[] = [];
      for await (const chunk of response!) parts.push(chunk as Buffer);
      const bytes = Buffer.concat(parts);
      expect(JSON.parse(response!.trailers[SUMMARY_TRAILER]!)).toMatchObject({
        includesSecrets: false,
      });

      const target = path.join(dir, "refused");
      const attempt = async (archive: Buffer) => {
        await expect(
          restoreBackup(Readable.from([archive]), { dataDir: target }),
        ).rejects.toMatchObject({ name: "RestoreRefused" });
        // Nothing was left behind.
        await expect(readFile(path.join(target, "secrets.json"))).rejects.toThrow();
        await expect(mkdir(target)).resolves.toBeUndefined();
        await rm(target, { recursive: true });
      };
      await attempt(bytes.subarray(0, Math.floor(bytes.length / 2)));
      await attempt(bytes.subarray(0, bytes.length - 1024)); // the closing blocks and more
      const damaged = Buffer.from(bytes);
      damaged[Math.floor(damaged.length * 0.6)]! ^= 0x55; // inside an object's bytes
      await attempt(damaged);

      // Version 2 (written with a correct manifest, so only the version is wrong).
      const rewritten: Buffer[] = [];
      const entries = async function* (): AsyncGenerator<TarEntry> {
        for await (const entry of untar(Readable.from([bytes]))) {
          const parts: Buffer[] = [];
          for await (const chunk of entry.body) parts.push(chunk);
          let body = Buffer.concat(parts);
          if (entry.name === entryNames.format)
            body = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), version: 2 }));
          yield { name: entry.name, size: body.length, body };
        }
      };
      for await (const chunk of tar(entries())) rewritten.push(chunk);
      await expect(
        restoreBackup(Readable.from([Buffer.concat(rewritten)]), { dataDir: target }),
      ).rejects.toThrow(/format version 2; this Parley restores version 1/);

      // Into a DATA_DIR that already holds something: refused, and it is untouched.
      await mkdir(target);
      await writeFile(path.join(target, "keep.txt"), "mine");
      await expect(restoreBackup(Readable.from([bytes]), { dataDir: target })).rejects.toThrow(
        /is not empty/,
      );
      expect(await readdir(target)).toEqual(["keep.txt"]);

      // With the wrong key in the environment it is refused; without any, it says so loudly.
      await expect(
        restoreBackup(Readable.from([bytes]), {
          dataDir: path.join(dir, "wrong-key"),
          configuredFilesKey: randomBytes(32).toString("hex"),
        }),
      ).rejects.toThrow(/is not the key of this backup's files/);
      const report = await restoreBackup(Readable.from([bytes]), {
        dataDir: path.join(dir, "no-key"),
      });
      expect(report.warnings.join("\n")).toContain("does NOT contain FILES_MASTER_KEY");
    }, 120_000);

    it("copies the objects the snapshot names from disk while the node holds their removal; one added after it is left out, one gone is listed", async () => {
      // Three files shared before the backup: one whose message is deleted while the backup
      // copies (its removal must wait), one that vanishes from the disk (deleted by another
      // node, which holds nothing back), one that stays. And one shared after the snapshot.
      const share = async (bytes: Buffer) => {
        const storageKey = newStorageKey();
        await writeObject(files.storage, files.keys, storageKey, bytes);
        await database.db.insert(attachments).values({
          roomId,
          uploaderId: users[0]!.id,
          name: "held.bin",
          size: bytes.length,
          mimeType: "application/octet-stream",
          storageKey,
        });
        return storageKey;
      };
      const [removed, vanished, kept] = [
        await share(randomBytes(5 * 1024 * 1024 + 3)),
        await share(randomBytes(10)),
        await share(randomBytes(4096)),
      ];
      const onDisk = (key: string) => path.join(dataDir, "files", "objects", key.slice(0, 2), key);
      const stored = new Map<string, string>();
      for (const key of [removed, kept]) stored.set(key, sha256(await readFile(onDisk(key))));

      const response = await adminRequest(dataDir, "/backup", {
        includeSecrets: true,
        objects: "caller",
      });
      expect(response!.headers[OBJECTS_HEADER]).toBe("caller");
      let added = "";
      const between = async function* (half: SnapshotHalf): SnapshotHalf {
        const plan = yield* half; // the node is done with the database; the copy starts next
        expect(plan.objects).toEqual(expect.arrayContaining([removed, vanished, kept]));
        await files.storage.remove(removed); // held back by the node
        await rm(onDisk(vanished));
        added = await share(randomBytes(100));
        return plan;
      };
      const chunks: Buffer[] = [];
      let summary: Omit<BackupSummary, "bytes"> | null = null;
      try {
        for await (const chunk of tar(
          backupArchive(
            between(snapshotFromNode(response!)),
            await DiskStorage.create(path.join(dataDir, "files", "objects")),
            (done) => (summary = done),
          ),
        ))
          chunks.push(chunk);
        // Still there: the node holds the removal while this connection is open.
        await expect(readFile(onDisk(removed))).resolves.toBeDefined();
      } finally {
        response!.destroy();
      }
      const archive = Buffer.concat(chunks);
      // Hung up: the held removal is done.
      await expect
        .poll(() =>
          readFile(onDisk(removed)).then(
            () => true,
            () => false,
          ),
        )
        .toBe(false);
      expect(summary).toMatchObject({ missingObjects: 1, includesSecrets: true });

      const objects = new Map<string, string>();
      let manifest: BackupManifest | null = null;
      for await (const entry of untar(Readable.from([archive]))) {
        const parts: Buffer[] = [];
        for await (const chunk of entry.body) parts.push(chunk);
        const key = /objects\/([0-9a-f]{32})$/.exec(entry.name)?.[1];
        if (key) objects.set(key, sha256(Buffer.concat(parts)));
        if (entry.name === entryNames.manifest)
          manifest = JSON.parse(Buffer.concat(parts).toString()) as BackupManifest;
      }
      expect(objects.get(removed)).toBe(stored.get(removed));
      expect(objects.get(kept)).toBe(stored.get(kept));
      expect(objects.has(vanished)).toBe(false);
      expect(objects.has(added)).toBe(false);
      expect(manifest!.missingObjects).toEqual([vanished]);

      // It restores, every byte checked, with the files it holds.
      const target = path.join(dir, "restored-held");
      const report = await restoreBackup(Readable.from([archive]), { dataDir: target });
      expect(report.objects).toBe(objects.size);
      expect(
        sha256(await readFile(path.join(target, "files", "objects", kept.slice(0, 2), kept))),
      ).toBe(stored.get(kept));
    }, 120_000);
  }
});
