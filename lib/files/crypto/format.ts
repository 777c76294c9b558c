/**
 * The stored format of encrypted files: the one definition of its layout, nonces and
 * length arithmetic. The main thread (./encryption.ts, ../objects.ts, ../upload-store.ts)
 * and the transfer worker (./transfer-worker.ts) both import it, so the two can never
 * disagree about where a chunk starts or which nonce seals it. Design and the reasons for
 * each choice: docs/files.md ("Encryption at rest"). ./format.test.ts pins the bytes with
 * a known answer: stored files must keep opening, so a change here that alters them fails.
 *
 *   header  magic "PRLYENC1" | chunk size u32 BE | nonce prefix (7) | wrap IV (12)
 *           | wrapped file key (32) | wrap tag (16)                       = 79 bytes
 *   chunks  for i = 0..n-1: AES-256-GCM(fileKey, nonce = prefix | u32 BE(i) | last?1:0)
 *           (plaintext_i) | tag (16); every chunk holds CHUNK_SIZE plaintext bytes except
 *           the last, which holds 0..CHUNK_SIZE (an empty object is one empty last chunk).
 *
 * The chunk index in the nonce stops chunks being reordered; the last-chunk flag stops an
 * object being truncated at a chunk boundary (the STREAM construction). Chunking is what
 * makes HTTP Range cheap: a range decrypts only the chunks it touches.
 *
 * A plain module: it imports `node:` modules only and uses only type syntax Node can strip,
 * because the worker loads it outside any bundler (no "server-only", no path aliases).
 */
import { Buffer } from "node:buffer";

/**
 * 1 MiB: large enough that making a cipher per chunk costs little next to encrypting it
 * (OpenSSL 3 makes cipher setup expensive), small enough that a range request decrypts at
 * most 2 MiB it does not need.
 */
export const CHUNK_SIZE = 1024 * 1024;
/** AES-GCM's tag, after every chunk and after the wrapped key. */
export const TAG_LENGTH = 16;
/** AES-GCM nonces: the wrap's IV, a chunk's nonce, a staged upload's tail IV. */
export const IV_LENGTH = 12;
/** AES-256 keys: the master key and every file key. */
export const KEY_LENGTH = 32;
export const NONCE_PREFIX_LENGTH = 7;
const MAGIC = Buffer.from("PRLYENC1", "latin1");
/** The header's fixed part: magic and chunk size. */
const FIXED_LENGTH = MAGIC.length + 4;
export const HEADER_LENGTH =
  FIXED_LENGTH + NONCE_PREFIX_LENGTH + IV_LENGTH + KEY_LENGTH + TAG_LENGTH;
/** A full chunk as stored: plaintext plus its tag. */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_LENGTH;
/** HKDF info for the key that seals a staged upload's partial last chunk (../upload-store.ts). */
export const TAIL_KEY_INFO = "parley upload tail";

/** The stored bytes were changed, truncated, or belong to another key: refuse them. */
export class TamperedError extends Error {
  constructor(what: string) {
    super(`Encrypted file failed its integrity check: ${what}`);
    this.name = "TamperedError";
  }
}

/** A header's fields, as views of it. */
export interface HeaderFields {
  /** Magic and chunk size: authenticated with the wrapped key. */
  fixed: Buffer;
  noncePrefix: Buffer;
  wrapIv: Buffer;
  wrappedKey: Buffer;
  wrapTag: Buffer;
}

/** The header's fixed part (magic, chunk size) for a new object. */
export function headerFixed(): Buffer {
  const fixed = Buffer.alloc(FIXED_LENGTH);
  MAGIC.copy(fixed);
  fixed.writeUInt32BE(CHUNK_SIZE, MAGIC.length);
  return fixed;
}

/** Assembles a header from its fields (in the order the layout above gives). */
export function buildHeader(fields: HeaderFields): Buffer {
  const { fixed, noncePrefix, wrapIv, wrappedKey, wrapTag } = fields;
  const header = Buffer.concat([fixed, noncePrefix, wrapIv, wrappedKey, wrapTag]);
  if (header.length !== HEADER_LENGTH) throw new Error("A header field has the wrong length");
  return header;
}

/** Splits a header into its fields; throws TamperedError for anything but this format. */
export function parseHeader(header: Buffer): HeaderFields {
  if (header.length < HEADER_LENGTH) throw new TamperedError("header too short");
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new TamperedError("unknown format");
  if (header.readUInt32BE(MAGIC.length) !== CHUNK_SIZE)
    throw new TamperedError("unexpected chunk size");
  let at = 0;
  const take = (length: number) => header.subarray(at, (at += length));
  return {
    fixed: take(FIXED_LENGTH),
    noncePrefix: take(NONCE_PREFIX_LENGTH),
    wrapIv: take(IV_LENGTH),
    wrappedKey: take(KEY_LENGTH),
    wrapTag: take(TAG_LENGTH),
  };
}

/** The nonce that seals chunk `index`: prefix | u32 BE(index) | last-chunk flag. */
export function chunkNonce(noncePrefix: Uint8Array, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(IV_LENGTH);
  nonce.set(noncePrefix, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_LENGTH);
  nonce[IV_LENGTH - 1] = last ? 1 : 0;
  return nonce;
}

/** How many chunks an object of `plainSize` bytes has (an empty one still has one). */
export function chunkCount(plainSize: number): number {
  return Math.max(1, Math.ceil(plainSize / CHUNK_SIZE));
}

/** The plaintext bytes chunk `index` of an object of `plainSize` bytes holds. */
export function plainChunkLength(plainSize: number, index: number): number {
  const lastIndex = chunkCount(plainSize) - 1;
  return index < lastIndex ? CHUNK_SIZE : plainSize - lastIndex * CHUNK_SIZE;
}

/** Chunk `index` as stored: its plaintext length plus the tag. */
export function sealedChunkLength(plainSize: number, index: number): number {
  return plainChunkLength(plainSize, index) + TAG_LENGTH;
}

/** Where chunk `index` starts in the stored object. */
export function chunkOffset(index: number): number {
  return HEADER_LENGTH + index * SEALED_CHUNK_SIZE;
}

/** The stored size of an object of `plainSize` bytes. */
export function storedSize(plainSize: number): number {
  return HEADER_LENGTH + plainSize + chunkCount(plainSize) * TAG_LENGTH;
}

/**
 * The plaintext size of a stored object, from its stored size alone; throws TamperedError
 * for a size no object can have (cut inside a tag, or short of a header).
 */
export function plainSizeOf(stored: number): number {
  const body = stored - HEADER_LENGTH;
  if (body < TAG_LENGTH) throw new TamperedError("object too short");
  const chunks = Math.ceil(body / SEALED_CHUNK_SIZE);
  const lastSealed = body - (chunks - 1) * SEALED_CHUNK_SIZE;
  if (lastSealed < TAG_LENGTH || (lastSealed === TAG_LENGTH && chunks > 1)) {
    throw new TamperedError("object was truncated");
  }
  return body - chunks * TAG_LENGTH;
}

/**
 * How many whole chunks of an object of `plainSize` bytes a file of `storedBytes` holds
 * (a staged upload's data, which grows chunk by chunk); bytes past them are a write cut short.
 */
export function wholeChunksIn(storedBytes: number, plainSize: number): number {
  const total = chunkCount(plainSize);
  let whole = Math.min(total, Math.floor((storedBytes - HEADER_LENGTH) / SEALED_CHUNK_SIZE));
  const lastIndex = total - 1;
  if (
    whole === lastIndex &&
    storedBytes - chunkOffset(whole) >= sealedChunkLength(plainSize, lastIndex)
  )
    whole = total;
  return Math.max(0, whole);
}

/** The chunks plaintext bytes start..end (inclusive) fall in: indexes first..past-1. */
export function chunksOf(start: number, end: number): { first: number; past: number } {
  return { first: Math.floor(start / CHUNK_SIZE), past: Math.floor(end / CHUNK_SIZE) + 1 };
}

/** The part of chunk `index`'s plaintext (`length` bytes) that lies in bytes start..end. */
export function sliceOfChunk(
  index: number,
  length: number,
  start: number,
  end: number,
): { from: number; to: number } {
  return {
    from: Math.max(0, start - index * CHUNK_SIZE),
    to: Math.min(length, end - index * CHUNK_SIZE + 1),
  };
}
