import "server-only";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { decryptingStream, encryptingStream, planRange } from "./encrypted-streams";
import {
  createFileKey,
  HEADER_LENGTH,
  openFileKey,
  plainSizeOf,
  SEALED_CHUNK_SIZE,
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
  const size = plainSizeOf(await storage.size(key));
  const header = await buffer(storage.read(key, { start: 0, end: HEADER_LENGTH - 1 }));
  const fileKey = openFileKey(masterKey, header, key);
  return {
    size,
    read(range) {
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (end < start) return Readable.from([]);
      const plan = planRange(size, start, end, HEADER_LENGTH);
      // Reads one sealed chunk at a time, so chunks open without being copied together.
      const source = storage.read(
        key,
        { start: plan.storedStart, end: plan.storedEnd },
        { highWaterMark: SEALED_CHUNK_SIZE },
      );
      const plain = decryptingStream(fileKey, size, plan);
      source.on("error", (err) => plain.destroy(err));
      plain.on("close", () => source.destroy());
      return source.pipe(plain);
    },
  };
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
