import "server-only";
import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { encryptingStream } from "./crypto/encrypted-streams";
import { type FileKey, type MasterKeys, openChunk } from "./crypto/encryption";
import {
  CHUNK_SIZE,
  chunkCount,
  chunkOffset,
  chunksOf,
  HEADER_LENGTH,
  plainSizeOf,
  SEALED_CHUNK_SIZE,
  sealedChunkLength,
  sliceOfChunk,
  TamperedError,
} from "./crypto/format";
import type { FileStorage } from "./storage";
import type { Transfers } from "./crypto/transfers";

/**
 * Encrypted objects in a FileStorage: what the rest of lib/files reads and writes. The
 * storage key is the context every object's key is bound to.
 */
export interface EncryptedObject {
  /** Plaintext size. */
  readonly size: number;
  /** Plaintext bytes start..end (inclusive), decrypted as they stream; all of them by default. */
  read(range?: { start: number; end: number }): Readable;
  /**
   * Sends plaintext bytes start..end to `res`, whose head is set: through a transfer
   * worker when the object is on local disk, so no byte is allocated on this thread.
   * Resolves when the response is over, whether it completed or broke off.
   */
  send(
    res: ServerResponse,
    range: { start: number; end: number },
    transfers: Transfers,
  ): Promise<void>;
}

/**
 * Opens a stored object: checks its size is one an object can have and unwraps its key,
 * so damage to the header or the length is refused before any byte is served. Damage to a
 * chunk is found when that chunk is read, and errors the stream.
 */
export async function openObject(
  storage: FileStorage,
  keys: MasterKeys,
  key: string,
): Promise<EncryptedObject> {
  const stored = await storage.open(key);
  let size: number;
  let fileKey: FileKey;
  try {
    size = plainSizeOf(stored.size);
    const header = await stored.read(0, HEADER_LENGTH, Buffer.alloc(HEADER_LENGTH));
    try {
      fileKey = keys.open(header, key);
    } catch (err) {
      // During a key rotation the header may have been read while it was rewritten in
      // place (./rotation.ts): read it once more before calling it damaged.
      if (!keys.previous) throw err;
      fileKey = keys.open(await stored.read(0, HEADER_LENGTH, Buffer.alloc(HEADER_LENGTH)), key);
    }
  } finally {
    await stored.close();
  }
  const read = (range?: { start: number; end: number }) => {
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    // Chunks of 1 MiB in an object-mode stream: each is pushed as one piece.
    return Readable.from(decryptRange(storage, key, fileKey, size, start, end), {
      objectMode: false,
      highWaterMark: CHUNK_SIZE,
    });
  };
  return {
    size,
    read,
    async send(res, { start, end }, transfers) {
      const local = storage.localPath?.(key);
      if (local) {
        await transfers.send(res, { path: local, fileKey, size, start, end });
        return;
      }
      // A damaged chunk or a lost client ends the response; there is nothing more to do.
      await pipeline(read({ start, end }), res).catch(() => undefined);
    },
  };
}

/**
 * Yields plaintext start..end, opening only the chunks that hold it. Each sealed chunk is
 * read into one reused buffer; only the decrypted output is new memory, which matters at
 * gigabytes per download (fewer garbage collections, flatter RSS).
 */
async function* decryptRange(
  storage: FileStorage,
  key: string,
  fileKey: FileKey,
  size: number,
  start: number,
  end: number,
): AsyncGenerator<Buffer> {
  if (end < start) return;
  const lastIndex = chunkCount(size) - 1;
  const { first, past } = chunksOf(start, end);
  const stored = await storage.open(key);
  try {
    const scratch = Buffer.allocUnsafe(SEALED_CHUNK_SIZE);
    for (let index = first; index < past; index++) {
      const sealedLength = sealedChunkLength(size, index);
      const sealed = await stored.read(chunkOffset(index), sealedLength, scratch);
      if (sealed.length !== sealedLength) throw new TamperedError("object ends early");
      const plain = openChunk(fileKey, index, index === lastIndex, sealed);
      const { from, to } = sliceOfChunk(index, plain.length, start, end);
      yield from === 0 && to === plain.length ? plain : plain.subarray(from, to);
    }
  } finally {
    await stored.close();
  }
}

/** Encrypts `plaintext` into a new object under `key` (server-made objects such as thumbnails). */
export async function writeObject(
  storage: FileStorage,
  keys: MasterKeys,
  key: string,
  plaintext: Buffer | Readable,
): Promise<void> {
  const source = Buffer.isBuffer(plaintext) ? Readable.from([plaintext]) : plaintext;
  const encrypted = encryptingStream(keys.create(key));
  source.on("error", (err) => encrypted.destroy(err));
  await storage.write(key, source.pipe(encrypted));
}
