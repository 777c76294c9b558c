import "server-only";
import { Readable } from "node:stream";
import { encryptingStream } from "./encrypted-streams";
import {
  CHUNK_SIZE,
  chunkCount,
  chunkOffset,
  createFileKey,
  type FileKey,
  HEADER_LENGTH,
  openChunk,
  openFileKey,
  plainSizeOf,
  SEALED_CHUNK_SIZE,
  TAG_LENGTH,
  TamperedError,
} from "./encryption";
import type { FileStorage } from "./storage";

/**
 * Encrypted objects in a FileStorage: what the rest of lib/files reads and writes. The
 * storage key is the context every object's key is bound to.
 */
export interface EncryptedObject {
  /** Plaintext size. */
  readonly size: number;
  /** Plaintext bytes start..end (inclusive), decrypted as they stream; all of them by default. */
  read(range?: { start: number; end: number }): Readable;
}

/**
 * Opens a stored object: checks its size is one an object can have and unwraps its key,
 * so damage to the header or the length is refused before any byte is served. Damage to a
 * chunk is found when that chunk is read, and errors the stream.
 */
export async function openObject(
  storage: FileStorage,
  masterKey: Buffer,
  key: string,
): Promise<EncryptedObject> {
  const stored = await storage.open(key);
  let size: number;
  let fileKey: FileKey;
  try {
    size = plainSizeOf(stored.size);
    const header = await stored.read(0, HEADER_LENGTH, Buffer.alloc(HEADER_LENGTH));
    fileKey = openFileKey(masterKey, header, key);
  } finally {
    await stored.close();
  }
  return {
    size,
    read(range) {
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      // Chunks of 1 MiB in an object-mode stream: each is pushed as one piece.
      return Readable.from(decryptRange(storage, key, fileKey, size, start, end), {
        objectMode: false,
        highWaterMark: CHUNK_SIZE,
      });
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
  const stored = await storage.open(key);
  try {
    const scratch = Buffer.allocUnsafe(SEALED_CHUNK_SIZE);
    for (let index = Math.floor(start / CHUNK_SIZE); index * CHUNK_SIZE <= end; index++) {
      const last = index === lastIndex;
      const sealedLength = last ? size - index * CHUNK_SIZE + TAG_LENGTH : SEALED_CHUNK_SIZE;
      const sealed = await stored.read(chunkOffset(index), sealedLength, scratch);
      if (sealed.length !== sealedLength) throw new TamperedError("object ends early");
      const plain = openChunk(fileKey, index, last, sealed);
      const from = Math.max(0, start - index * CHUNK_SIZE);
      const to = Math.min(plain.length, end - index * CHUNK_SIZE + 1);
      yield from === 0 && to === plain.length ? plain : plain.subarray(from, to);
    }
  } finally {
    await stored.close();
  }
}

/** Encrypts `plaintext` into a new object under `key` (server-made objects such as thumbnails). */
export async function writeObject(
  storage: FileStorage,
  masterKey: Buffer,
  key: string,
  plaintext: Buffer | Readable,
): Promise<void> {
  const source = Buffer.isBuffer(plaintext) ? Readable.from([plaintext]) : plaintext;
  const encrypted = encryptingStream(createFileKey(masterKey, key));
  source.on("error", (err) => encrypted.destroy(err));
  await storage.write(key, source.pipe(encrypted));
}
