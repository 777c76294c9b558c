import "server-only";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { and, asc, eq, gt, isNull, or, type SQL } from "drizzle-orm";
import { loadMessageViews } from "@/lib/chat/views";
import type { MessageView } from "@/lib/chat/schemas";
import type { Db } from "@/lib/db/client";
import {
  attachments,
  messages,
  notifyPrefs,
  passkeys,
  roomMembers,
  rooms,
  users,
} from "@/lib/db/schema";
import type { MasterKeys } from "@/lib/files/crypto/encryption";
import { openObject } from "@/lib/files/objects";
import type { FileStorage } from "@/lib/files/storage";
import { roomHtml } from "./html";
import { exportedFilePath } from "./paths";
import { spool, type TarEntry } from "./tar";

/**
 * What a person or a room's owner takes with them, as the entries of one tar archive
 * (./tar.ts), generated as they are read: messages a page at a time (spooled to a
 * temporary file, since a tar header needs the size first), files decrypted as they
 * stream. Memory stays flat whatever the room holds. A `manifest.json` closes the archive
 * with every file's SHA-256, counted as it went out.
 */
export interface ExportDeps {
  db: Db;
  storage: FileStorage;
  keys: MasterKeys;
  /** Where spooled text waits until it goes out (a fresh folder per export inside it). */
  tmpDir: string;
}

/** Messages read per query. */
const PAGE = 500;

interface ManifestFile {
  path: string;
  id: string;
  name: string;
  size: number;
  sha256: string;
}

const json = (name: string, value: unknown): TarEntry => {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  return { name, size: body.length, body };
};

/** A file's entry, decrypted as it streams, its hash noted in `files` when it is done. */
function fileEntry(
  deps: ExportDeps,
  dir: string,
  row: { id: string; name: string; size: number; storageKey: string },
  files: ManifestFile[],
): TarEntry {
  const entryPath = exportedFilePath(row);
  return {
    name: `${dir}/${entryPath}`,
    size: row.size,
    body: (async function* () {
      const object = await openObject(deps.storage, deps.keys, row.storageKey);
      if (object.size !== row.size) throw new Error(`file ${row.id} has the wrong size`);
      const hash = createHash("sha256");
      for await (const chunk of object.read() as AsyncIterable<Buffer>) {
        hash.update(chunk);
        yield chunk;
      }
      files.push({
        path: entryPath,
        id: row.id,
        name: row.name,
        size: row.size,
        sha256: hash.digest("hex"),
      });
    })(),
  };
}

/** A person's data: profile, rooms, every message they wrote, every file they shared. */
export async function* personalExport(deps: ExportDeps, userId: string): AsyncGenerator<TarEntry> {
  const dir = "parley-export";
  const tmp = await mkdtemp(path.join(deps.tmpDir, "export-"));
  try {
    const [user] = await deps.db.select().from(users).where(eq(users.id, userId)).limit(1);
    if (!user) throw new Error("no such user");
    const keys = await deps.db
      .select({
        name: passkeys.name,
        createdAt: passkeys.createdAt,
        lastUsedAt: passkeys.lastUsedAt,
      })
      .from(passkeys)
      .where(eq(passkeys.userId, userId));
    const [prefs] = await deps.db.select().from(notifyPrefs).where(eq(notifyPrefs.userId, userId));
    yield json(`${dir}/profile.json`, {
      id: user.id,
      displayName: user.displayName,
      email: user.email,
      isGuest: user.isGuest,
      createdAt: user.createdAt,
      passkeys: keys,
      notifications: prefs
        ? { dndUntil: prefs.dndUntil, privacy: prefs.privacy, emailDigest: prefs.emailDigest }
        : null,
    });

    const memberships = await deps.db
      .select({
        id: rooms.id,
        name: rooms.name,
        slug: rooms.slug,
        kind: rooms.kind,
        role: roomMembers.role,
        joinedAt: roomMembers.joinedAt,
        lastReadSeq: roomMembers.lastReadSeq,
      })
      .from(roomMembers)
      .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
      .where(eq(roomMembers.userId, userId))
      .orderBy(asc(roomMembers.joinedAt));
    yield json(`${dir}/rooms.json`, memberships);

    let messageCount = 0;
    yield await spool(
      tmp,
      `${dir}/messages.jsonl`,
      (async function* () {
        let after: { createdAt: Date; id: string } | null = null;
        for (;;) {
          const page: Array<
            Omit<typeof messages.$inferSelect, "search" | "fileNames"> & { roomName: string | null }
          > = await deps.db
            .select({
              id: messages.id,
              roomId: messages.roomId,
              authorId: messages.authorId,
              clientId: messages.clientId,
              seq: messages.seq,
              body: messages.body,
              replyToId: messages.replyToId,
              createdAt: messages.createdAt,
              editedAt: messages.editedAt,
              deletedAt: messages.deletedAt,
              roomName: rooms.name,
            })
            .from(messages)
            .leftJoin(rooms, eq(rooms.id, messages.roomId))
            .where(
              and(
                eq(messages.authorId, userId),
                isNull(messages.deletedAt),
                after
                  ? or(
                      gt(messages.createdAt, after.createdAt),
                      and(eq(messages.createdAt, after.createdAt), gt(messages.id, after.id)),
                    )
                  : undefined,
              ),
            )
            .orderBy(asc(messages.createdAt), asc(messages.id))
            .limit(PAGE);
          for (const m of page) {
            messageCount++;
            yield `${JSON.stringify({
              id: m.id,
              roomId: m.roomId,
              roomName: m.roomName,
              seq: m.seq,
              body: m.body,
              replyToId: m.replyToId,
              createdAt: m.createdAt,
              editedAt: m.editedAt,
            })}\n`;
          }
          if (page.length < PAGE) break;
          const last = page[page.length - 1]!;
          after = { createdAt: last.createdAt, id: last.id };
        }
      })(),
    );

    const files: ManifestFile[] = [];
    yield* filesOf(deps, dir, eq(attachments.uploaderId, userId), files);
    yield json(`${dir}/manifest.json`, {
      kind: "personal",
      exportedAt: new Date(),
      userId,
      rooms: memberships.length,
      messages: messageCount,
      files,
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Files matching `where`, a page of rows at a time, oldest first. */
async function* filesOf(
  deps: ExportDeps,
  dir: string,
  where: SQL,
  files: ManifestFile[],
): AsyncGenerator<TarEntry> {
  let after: string | null = null;
  for (;;) {
    const page = await deps.db
      .select({
        id: attachments.id,
        name: attachments.name,
        size: attachments.size,
        storageKey: attachments.storageKey,
      })
      .from(attachments)
      .where(and(where, after ? gt(attachments.id, after) : undefined))
      .orderBy(asc(attachments.id))
      .limit(PAGE);
    for (const row of page) yield fileEntry(deps, dir, row, files);
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}

/**
 * A room, for its owner: `messages.jsonl` for machines (each message as the app sees it:
 * author, reply, reactions, files), `index.html` to read in any browser without the app
 * (images shown inline from the files beside it), and every file shared in it.
 */
export async function* roomExport(deps: ExportDeps, roomId: string): AsyncGenerator<TarEntry> {
  const [room] = await deps.db.select().from(rooms).where(eq(rooms.id, roomId)).limit(1);
  if (!room) throw new Error("no such room");
  const dir = `room-${room.slug}`;
  const tmp = await mkdtemp(path.join(deps.tmpDir, "export-"));
  try {
    const members = await deps.db
      .select({ id: users.id, displayName: users.displayName, role: roomMembers.role })
      .from(roomMembers)
      .innerJoin(users, eq(users.id, roomMembers.userId))
      .where(eq(roomMembers.roomId, roomId))
      .orderBy(asc(roomMembers.joinedAt));
    const about = {
      id: room.id,
      name: room.name,
      slug: room.slug,
      kind: room.kind,
      createdAt: room.createdAt,
      members,
    };
    yield json(`${dir}/room.json`, about);

    let messageCount = 0;
    const pages = () => messagePages(deps.db, roomId);
    yield await spool(
      tmp,
      `${dir}/messages.jsonl`,
      (async function* () {
        for await (const page of pages()) {
          for (const m of page) {
            messageCount++;
            yield `${JSON.stringify(m)}\n`;
          }
        }
      })(),
    );
    yield await spool(tmp, `${dir}/index.html`, roomHtml(about, pages()));

    const files: ManifestFile[] = [];
    yield* filesOf(deps, dir, eq(attachments.roomId, roomId), files);
    yield json(`${dir}/manifest.json`, {
      kind: "room",
      exportedAt: new Date(),
      roomId,
      messages: messageCount,
      files,
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The room's live messages in order, as the app shows them, a page at a time. */
async function* messagePages(db: Db, roomId: string): AsyncGenerator<MessageView[]> {
  let afterSeq = 0;
  for (;;) {
    const ids = await db
      .select({ id: messages.id, seq: messages.seq })
      .from(messages)
      .where(
        and(eq(messages.roomId, roomId), isNull(messages.deletedAt), gt(messages.seq, afterSeq)),
      )
      .orderBy(asc(messages.seq))
      .limit(PAGE);
    if (ids.length === 0) return;
    yield await loadMessageViews(
      db,
      ids.map((r) => r.id),
    );
    if (ids.length < PAGE) return;
    afterSeq = ids[ids.length - 1]!.seq;
  }
}

/** The suggested download name. */
export function archiveName(kind: "personal" | "room", slug?: string): string {
  const day = new Date().toISOString().slice(0, 10);
  return kind === "personal" ? `parley-export-${day}.tar` : `parley-room-${slug}-${day}.tar`;
}
