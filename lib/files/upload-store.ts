import "server-only";
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { DataStore, Upload } from "@tus/utils";
import { z } from "zod";
import { type FileKey, type MasterKeys, openTail, sealTail } from "./crypto/encryption";
import { CHUNK_SIZE, chunkCount, HEADER_LENGTH, wholeChunksIn } from "./crypto/format";
import { AppError, badRequest } from "@/lib/errors";
import { isAttachmentId } from "./schemas";
import { noSuchUpload, uploadMovedOn } from "./uploads";
import type { Transfers } from "./crypto/transfers";

/**
 * The tus data store: uploads in progress, staged under DATA_DIR/files/uploads/<id>/ and
 * encrypted as they arrive, in the same format as stored objects (./crypto/format.ts), so a
 * finished upload becomes an object by a rename. Plaintext never touches the disk.
 *
 *   info.json  who uploads what, to which room, under which storage key
 *   data       header and every sealed chunk received so far
 *   tail       the partial chunk an interrupted request left, sealed on its own
 *
 * The offset a client resumes from is always derived from `data` and `tail`, never kept
 * separately, so a crash at any point leaves a consistent (if shorter) upload.
 */

const infoSchema = z.object({
  id: z.string(),
  size: z.number().int().positive(),
  createdAt: z.string(),
  roomId: z.string(),
  uploaderId: z.string(),
  name: z.string(),
  storageKey: z.string(),
  /** Set once the upload's data has been moved to storage. */
  adopted: z.boolean().default(false),
  /** Set once the attachment row exists; the folder is then only a marker until it expires. */
  completed: z.boolean().default(false),
});
export type StagedUpload = z.infer<typeof infoSchema>;

/** What the upload's creator binds to it (from onUploadCreate's metadata). */
export interface NewUpload {
  roomId: string;
  uploaderId: string;
  name: string;
  storageKey: string;
}

/** What an unfinished upload holds of its uploader's and its room's storage (./quota.ts). */
export interface Reservation {
  uploaderId: string;
  roomId: string;
  size: number;
  /** Date.now() when it was made; an expired upload no longer counts. */
  at: number;
}

export class EncryptedUploadStore extends DataStore {
  /** This node's unfinished uploads, by id: rebuilt from the folders at start, kept since. */
  private readonly reservations = new Map<string, Reservation>();

  constructor(
    private readonly dir: string,
    private readonly keys: MasterKeys,
    private readonly expiryMs: number,
    private readonly transfers: Transfers,
  ) {
    super();
    this.extensions = ["creation", "creation-with-upload", "termination", "expiration"];
  }

  static async create(
    dir: string,
    keys: MasterKeys,
    expiryMs: number,
    transfers: Transfers,
  ): Promise<EncryptedUploadStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new EncryptedUploadStore(dir, keys, expiryMs, transfers);
    for (const id of await readdir(dir)) {
      const info = await store.staged(id).catch(() => null);
      if (info && !info.completed) store.reserve(id, { ...info, at: Date.parse(info.createdAt) });
    }
    return store;
  }

  /**
   * Claims storage for an upload about to be created (./quota.ts does so before checking
   * the quota, so two uploads created at once see each other). Released when the upload
   * completes, is removed or fails to be created.
   */
  reserve(id: string, reservation: Reservation): void {
    this.reservations.set(id, reservation);
  }

  release(id: string): void {
    this.reservations.delete(id);
  }

  /** The unfinished, unexpired uploads of a user or to a room, on this node. */
  reserved(
    which: { uploaderId: string } | { roomId: string },
    now = Date.now(),
  ): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const r of this.reservations.values()) {
      if (now - r.at > this.expiryMs) continue;
      if ("uploaderId" in which ? r.uploaderId !== which.uploaderId : r.roomId !== which.roomId)
        continue;
      count++;
      bytes += r.size;
    }
    return { count, bytes };
  }

  private folder(id: string): string {
    // Ids come from the tus handler's namingFunction (UUIDs) and are checked again here,
    // because this one becomes a path.
    if (!isAttachmentId(id)) throw noSuchUpload();
    return path.join(this.dir, id);
  }

  /** The path of an upload's encrypted data, for moving it into storage. */
  dataPath(id: string): string {
    return path.join(this.folder(id), "data");
  }

  override async create(upload: Upload): Promise<Upload> {
    const binding = newUploadSchema.parse(upload.metadata);
    if (!upload.size) throw badRequest("Upload-Length or Upload-Defer-Length header required");
    const info: StagedUpload = {
      id: upload.id,
      size: upload.size,
      createdAt: new Date().toISOString(),
      ...binding,
      adopted: false,
      completed: false,
    };
    const folder = this.folder(upload.id);
    try {
      await mkdir(folder, { mode: 0o700 });
      const fileKey = this.keys.create(info.storageKey);
      await writeFile(path.join(folder, "data"), fileKey.header, { mode: 0o600 });
      await this.saveInfo(info);
    } catch (err) {
      this.release(upload.id);
      throw err;
    }
    if (!this.reservations.has(upload.id)) this.reserve(upload.id, { ...info, at: Date.now() });
    upload.creation_date = info.createdAt;
    upload.metadata = { name: info.name };
    return upload;
  }

  /** The upload's binding and state, or null when there is no such upload. */
  async staged(id: string): Promise<StagedUpload | null> {
    if (!isAttachmentId(id)) return null;
    try {
      return infoSchema.parse(
        JSON.parse(await readFile(path.join(this.folder(id), "info.json"), "utf8")),
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async saveInfo(info: StagedUpload): Promise<void> {
    const file = path.join(this.folder(info.id), "info.json");
    const temp = `${file}.${randomBytes(4).toString("hex")}`;
    await writeFile(temp, JSON.stringify(info), { mode: 0o600 });
    await rename(temp, file);
    // From now on the attachment row counts instead.
    if (info.completed) this.release(info.id);
  }

  override async getUpload(id: string): Promise<Upload> {
    const info = await this.staged(id);
    if (!info) throw noSuchUpload();
    const offset = info.adopted ? info.size : (await this.progress(info)).offset;
    return new Upload({
      id,
      size: info.size,
      offset,
      metadata: { name: info.name },
      creation_date: info.createdAt,
    });
  }

  /**
   * Stores the bytes of one request from `offset` on. Whatever arrived is kept, also when
   * the request breaks off, so the client resumes from the last byte received rather than
   * the last whole chunk. The transfer worker seals and writes the whole chunks; the main
   * thread only copies the request's bytes to it (./transfers.ts says why).
   */
  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const info = await this.staged(id);
    if (!info || info.adopted) throw noSuchUpload();
    const state = await this.progress(info);
    if (state.offset !== offset) throw uploadMovedOn();

    const sealing = this.transfers.seal({
      path: this.dataPath(id),
      fileKey: state.fileKey,
      index: state.sealed,
      size: info.size,
      capacity: info.size - state.sealed * CHUNK_SIZE,
    });
    let received = offset;
    try {
      if (state.tail) await sealing.push(state.tail);
      for await (const piece of stream as AsyncIterable<Buffer>) {
        received += piece.length;
        if (received > info.size)
          throw new AppError("too_large", "The upload is longer than the size it declared");
        const wait = sealing.push(piece);
        if (wait) await wait;
      }
    } finally {
      const { index, rest } = await sealing.finish();
      await this.saveTail(id, state.fileKey, index, rest.length ? [rest] : []);
    }
    return (await this.progress(info)).offset;
  }

  private async saveTail(
    id: string,
    fileKey: FileKey,
    index: number,
    pieces: Buffer[],
  ): Promise<void> {
    const file = path.join(this.folder(id), "tail");
    if (pieces.length === 0) {
      await rm(file, { force: true });
      return;
    }
    const temp = `${file}.${randomBytes(4).toString("hex")}`;
    await writeFile(temp, sealTail(fileKey, index, pieces), { mode: 0o600 });
    await rename(temp, file);
  }

  /**
   * How far an upload got: the whole chunks in `data`, plus the tail if it belongs right
   * after them (a tail for an earlier chunk was left by a crash after that chunk was sealed).
   */
  private async progress(info: StagedUpload): Promise<{
    fileKey: FileKey;
    sealed: number;
    tail: Buffer | null;
    offset: number;
  }> {
    const folder = this.folder(info.id);
    const dataFile = path.join(folder, "data");
    const [header, dataSize] = await Promise.all([
      readHeader(dataFile),
      stat(dataFile).then((s) => s.size),
    ]);
    const fileKey = this.keys.open(header, info.storageKey);
    const total = chunkCount(info.size);
    const sealed = wholeChunksIn(dataSize, info.size);
    let tail: Buffer | null = null;
    if (sealed < total) {
      const raw = await readFile(path.join(folder, "tail")).catch(() => null);
      tail = raw ? openTail(fileKey, sealed, raw) : null;
    }
    const offset = sealed === total ? info.size : sealed * CHUNK_SIZE + (tail?.length ?? 0);
    return { fileKey, sealed, tail, offset };
  }

  override async remove(id: string): Promise<void> {
    if (!(await this.staged(id))) throw noSuchUpload();
    await this.discard(id);
  }

  /** Removes an upload's folder, whatever its state. */
  async discard(id: string): Promise<void> {
    await rm(this.folder(id), { recursive: true, force: true });
    this.release(id);
  }

  /**
   * Every unfinished upload's data file (it starts with the object's header) and the
   * storage key that header is bound to: what a key rotation re-wraps (./rotation.ts).
   */
  async *stagedHeaders(): AsyncGenerator<{ file: string; context: string }> {
    for (const id of await readdir(this.dir).catch(() => [] as string[])) {
      if (!isAttachmentId(id)) continue;
      const info = await this.staged(id).catch(() => null);
      if (info && !info.completed)
        yield { file: path.join(this.folder(id), "data"), context: info.storageKey };
    }
  }

  override getExpiration(): number {
    return this.expiryMs;
  }

  /** Removes every upload folder older than the expiry; returns how many. */
  override async deleteExpired(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const id of await readdir(this.dir).catch(() => [] as string[])) {
      if (!isAttachmentId(id)) continue;
      const info = await this.staged(id).catch(() => null);
      const created = info
        ? Date.parse(info.createdAt)
        : (await stat(path.join(this.dir, id)).catch(() => null))?.mtimeMs;
      if (created === undefined || now - created <= this.expiryMs) continue;
      await this.discard(id);
      removed++;
    }
    return removed;
  }
}

const newUploadSchema = z.object({
  roomId: z.string(),
  uploaderId: z.string(),
  name: z.string(),
  storageKey: z.string(),
});

/** The header an encrypted file starts with (shorter when the file is). */
export async function readHeader(file: string): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const header = Buffer.alloc(HEADER_LENGTH);
    const { bytesRead } = await handle.read(header, 0, HEADER_LENGTH, 0);
    return header.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
