import "server-only";
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

/**
 * Encryption at rest: every stored object is AES-256-GCM in fixed-size chunks under a key
 * of its own, and that key is wrapped (AES-256-GCM) by the master key. Design and the
 * reasons for each choice: docs/files.md ("Encryption at rest").
 *
 * Object layout:
 *
 *   header  magic "PRLYENC1" | chunk size u32 | nonce prefix (7) | wrap IV (12)
 *           | wrapped file key (32) | wrap tag (16)                       = 79 bytes
 *   chunks  for i = 0..n-1: AES-GCM(fileKey, nonce = prefix | u32(i) | last?1:0)(plaintext_i)
 *           | tag (16); every chunk holds CHUNK_SIZE plaintext bytes except the last,
 *           which holds 0..CHUNK_SIZE (an empty object is one empty last chunk).
 *
 * The chunk index in the nonce stops chunks being reordered; the last-chunk flag stops an
 * object being truncated at a chunk boundary (the STREAM construction). The wrap is
 * authenticated with the header fields and the object's storage key, so a header edited,
 * or an object moved under another key, fails to open. Chunking is what makes HTTP Range
 * cheap: a range decrypts only the chunks it touches.
 */

/**
 * 1 MiB: large enough that making a cipher per chunk costs little next to encrypting it
 * (OpenSSL 3 makes cipher setup expensive), small enough that a range request decrypts at
 * most 2 MiB it does not need.
 */
export const CHUNK_SIZE = 1024 * 1024;
export const TAG_LENGTH = 16;
const MAGIC = Buffer.from("PRLYENC1", "latin1");
const PREFIX_LENGTH = 7;
const IV_LENGTH = 12;
const KEY_LENGTH = 32;
export const HEADER_LENGTH = MAGIC.length + 4 + PREFIX_LENGTH + IV_LENGTH + KEY_LENGTH + TAG_LENGTH;
/** A full chunk as stored: plaintext plus its tag. */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_LENGTH;

/** The stored bytes were changed, truncated, or belong to another key: refuse them. */
export class TamperedError extends Error {
  constructor(what: string) {
    super(`Encrypted file failed its integrity check: ${what}`);
    this.name = "TamperedError";
  }
}

/** The 32-byte master key from its 64-hex-character configured form. */
export function parseMasterKey(hex: string): Buffer {
  if (!/^[0-9a-f]{64}$/i.test(hex))
    throw new Error("The files master key must be 64 hex characters");
  return Buffer.from(hex, "hex");
}

/** An unwrapped per-object key, ready to seal or open chunks. */
export interface FileKey {
  readonly key: Buffer;
  /** The same key prepared once for OpenSSL; passing raw bytes re-imports them per chunk. */
  readonly keyObject: KeyObject;
  readonly noncePrefix: Buffer;
  /** The 79-byte header that starts the object. */
  readonly header: Buffer;
}

/**
 * A fresh key for a new object, wrapped by the master key and bound to `context` (the
 * object's storage key).
 */
export function createFileKey(masterKey: Buffer, context: string): FileKey {
  const key = randomBytes(KEY_LENGTH);
  const noncePrefix = randomBytes(PREFIX_LENGTH);
  const iv = randomBytes(IV_LENGTH);
  const fixed = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(fixed);
  fixed.writeUInt32BE(CHUNK_SIZE, MAGIC.length);
  const wrap = createCipheriv("aes-256-gcm", masterKey, iv);
  wrap.setAAD(wrapAad(fixed, noncePrefix, context));
  const wrapped = Buffer.concat([wrap.update(key), wrap.final()]);
  const header = Buffer.concat([fixed, noncePrefix, iv, wrapped, wrap.getAuthTag()]);
  return { key, keyObject: createSecretKey(key), noncePrefix, header };
}

/** Unwraps an object's key from its header; throws TamperedError if anything is off. */
export function openFileKey(masterKey: Buffer, header: Buffer, context: string): FileKey {
  if (header.length < HEADER_LENGTH) throw new TamperedError("header too short");
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new TamperedError("unknown format");
  const fixed = header.subarray(0, MAGIC.length + 4);
  if (fixed.readUInt32BE(MAGIC.length) !== CHUNK_SIZE)
    throw new TamperedError("unexpected chunk size");
  let at = fixed.length;
  const noncePrefix = header.subarray(at, (at += PREFIX_LENGTH));
  const iv = header.subarray(at, (at += IV_LENGTH));
  const wrapped = header.subarray(at, (at += KEY_LENGTH));
  const tag = header.subarray(at, (at += TAG_LENGTH));
  try {
    const unwrap = createDecipheriv("aes-256-gcm", masterKey, iv);
    unwrap.setAAD(wrapAad(fixed, noncePrefix, context));
    unwrap.setAuthTag(tag);
    const key = Buffer.concat([unwrap.update(wrapped), unwrap.final()]);
    return {
      key,
      keyObject: createSecretKey(key),
      noncePrefix: Buffer.from(noncePrefix),
      header: Buffer.from(header.subarray(0, HEADER_LENGTH)),
    };
  } catch {
    throw new TamperedError("the file key does not open with this master key and storage key");
  }
}

function wrapAad(fixed: Buffer, noncePrefix: Buffer, context: string): Buffer {
  return Buffer.concat([fixed, noncePrefix, Buffer.from(context, "utf8")]);
}

function chunkNonce(fileKey: FileKey, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(IV_LENGTH);
  fileKey.noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, PREFIX_LENGTH);
  nonce[IV_LENGTH - 1] = last ? 1 : 0;
  return nonce;
}

/**
 * Seals chunk `index` from its plaintext pieces (passed as received, to avoid copying
 * them together). Returns the ciphertext pieces followed by the tag.
 */
export function sealChunk(
  fileKey: FileKey,
  index: number,
  last: boolean,
  pieces: readonly Buffer[],
): Buffer[] {
  const cipher = createCipheriv("aes-256-gcm", fileKey.keyObject, chunkNonce(fileKey, index, last));
  const out: Buffer[] = [];
  for (const piece of pieces) {
    const c = cipher.update(piece);
    if (c.length) out.push(c);
  }
  const f = cipher.final();
  if (f.length) out.push(f);
  out.push(cipher.getAuthTag());
  return out;
}

/** Opens one sealed chunk (ciphertext followed by its tag); throws TamperedError. */
export function openChunk(fileKey: FileKey, index: number, last: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG_LENGTH) throw new TamperedError(`chunk ${index} is truncated`);
  const body = sealed.subarray(0, sealed.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv(
      "aes-256-gcm",
      fileKey.keyObject,
      chunkNonce(fileKey, index, last),
    );
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    const plain = decipher.update(body);
    const rest = decipher.final();
    return rest.length ? Buffer.concat([plain, rest]) : plain;
  } catch {
    throw new TamperedError(`chunk ${index} was modified`);
  }
}

/** How many chunks an object of `plainSize` bytes has (an empty one still has one). */
export function chunkCount(plainSize: number): number {
  return Math.max(1, Math.ceil(plainSize / CHUNK_SIZE));
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

/** Where chunk `index` starts in the stored object. */
export function chunkOffset(index: number): number {
  return HEADER_LENGTH + index * SEALED_CHUNK_SIZE;
}

/**
 * A key for the partial last chunk an interrupted upload keeps between requests. Derived,
 * so it never shares nonces with the object's chunks; its nonces are random because one
 * partial chunk is rewritten as it grows.
 */
export function tailKey(fileKey: FileKey): Buffer {
  return Buffer.from(
    hkdfSync("sha256", fileKey.key, Buffer.alloc(0), "parley upload tail", KEY_LENGTH),
  );
}

/** Seals a partial chunk for chunk position `index` (random nonce | ciphertext | tag). */
export function sealTail(fileKey: FileKey, index: number, pieces: readonly Buffer[]): Buffer {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv("aes-256-gcm", tailKey(fileKey), iv);
  cipher.setAAD(indexAad(index));
  const body = pieces.map((p) => cipher.update(p));
  return Buffer.concat([iv, ...body, cipher.final(), cipher.getAuthTag()]);
}

/** Opens a partial chunk sealed for position `index`; null when it is not that chunk's or was changed. */
export function openTail(fileKey: FileKey, index: number, sealed: Buffer): Buffer | null {
  if (sealed.length < IV_LENGTH + TAG_LENGTH) return null;
  try {
    const decipher = createDecipheriv(
      "aes-256-gcm",
      tailKey(fileKey),
      sealed.subarray(0, IV_LENGTH),
    );
    decipher.setAAD(indexAad(index));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    return Buffer.concat([
      decipher.update(sealed.subarray(IV_LENGTH, sealed.length - TAG_LENGTH)),
      decipher.final(),
    ]);
  } catch {
    return null;
  }
}

function indexAad(index: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(index);
  return b;
}
