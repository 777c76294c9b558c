import "server-only";
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  createHash,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

import {
  buildHeader,
  chunkNonce,
  headerFixed,
  IV_LENGTH,
  KEY_LENGTH,
  NONCE_PREFIX_LENGTH,
  parseHeader,
  TAG_LENGTH,
  TAIL_KEY_INFO,
  TamperedError,
} from "./format";

/**
 * Encryption at rest: every stored object is AES-256-GCM in fixed-size chunks under a key
 * of its own, and that key is wrapped (AES-256-GCM) by the master key. The layout, nonces
 * and sizes are ./format.ts's; this module does the cryptography on the main thread (the
 * transfer worker does the same for large transfers, with the same format). Design:
 * docs/files.md ("Encryption at rest").
 *
 * The wrap is authenticated with the header's fixed fields, the nonce prefix and the
 * object's storage key, so a header edited, or an object moved under another key, fails
 * to open.
 */

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
export function createFileKey(
  masterKey: Buffer,
  context: string,
  /** Fixed key material, for known-answer tests only (./format.test.ts); random otherwise. */
  material?: { key: Buffer; noncePrefix: Buffer; wrapIv: Buffer },
): FileKey {
  const key = material?.key ?? randomBytes(KEY_LENGTH);
  const noncePrefix = material?.noncePrefix ?? randomBytes(NONCE_PREFIX_LENGTH);
  const wrapIv = material?.wrapIv ?? randomBytes(IV_LENGTH);
  const fixed = headerFixed();
  const wrap = createCipheriv("aes-256-gcm", masterKey, wrapIv);
  wrap.setAAD(wrapAad(fixed, noncePrefix, context));
  const wrappedKey = Buffer.concat([wrap.update(key), wrap.final()]);
  const header = buildHeader({
    fixed,
    noncePrefix,
    wrapIv,
    wrappedKey,
    wrapTag: wrap.getAuthTag(),
  });
  return { key, keyObject: createSecretKey(key), noncePrefix, header };
}

/** Unwraps an object's key from its header; throws TamperedError if anything is off. */
export function openFileKey(masterKey: Buffer, header: Buffer, context: string): FileKey {
  const { fixed, noncePrefix, wrapIv, wrappedKey, wrapTag } = parseHeader(header);
  try {
    const unwrap = createDecipheriv("aes-256-gcm", masterKey, wrapIv);
    unwrap.setAAD(wrapAad(fixed, noncePrefix, context));
    unwrap.setAuthTag(wrapTag);
    const key = Buffer.concat([unwrap.update(wrappedKey), unwrap.final()]);
    return {
      key,
      keyObject: createSecretKey(key),
      noncePrefix: Buffer.from(noncePrefix),
      header: buildHeader({ fixed, noncePrefix, wrapIv, wrappedKey, wrapTag }),
    };
  } catch {
    throw new TamperedError("the file key does not open with this master key and storage key");
  }
}

/**
 * The master keys a node holds: `current` wraps every new object's key; `previous`, only
 * while a rotation is under way (lib/files/rotation.ts), still opens the objects not yet
 * re-wrapped. Mutable, shared by reference: a rotation swaps the keys of the running node.
 */
export class MasterKeys {
  constructor(
    public current: Buffer,
    public previous: Buffer | null = null,
  ) {}

  /** A fresh key for a new object, wrapped by the current master key. */
  create(context: string): FileKey {
    return createFileKey(this.current, context);
  }

  /** Unwraps an object's key with the current master key, else the previous one. */
  open(header: Buffer, context: string): FileKey {
    try {
      return openFileKey(this.current, header, context);
    } catch (err) {
      if (!this.previous) throw err;
      return openFileKey(this.previous, header, context);
    }
  }
}

/**
 * A master key's public name: the first 16 hex digits of its SHA-256, to tell keys apart
 * in backups and logs without revealing them.
 */
export function keyFingerprint(masterKey: Buffer): string {
  return createHash("sha256").update(masterKey).digest("hex").slice(0, 16);
}

/**
 * The same object's header with its file key wrapped by `to` instead (a fresh wrap IV):
 * the chunks, sealed with the file key, are unchanged. Null when `to` already opens it.
 * Throws TamperedError when neither key does.
 */
export function rewrapHeader(
  header: Buffer,
  context: string,
  keys: { from: Buffer; to: Buffer },
): Buffer | null {
  try {
    openFileKey(keys.to, header, context);
    return null;
  } catch {
    // Not yet re-wrapped.
  }
  const opened = openFileKey(keys.from, header, context);
  return createFileKey(keys.to, context, {
    key: opened.key,
    noncePrefix: opened.noncePrefix,
    wrapIv: randomBytes(IV_LENGTH),
  }).header;
}

function wrapAad(fixed: Buffer, noncePrefix: Buffer, context: string): Buffer {
  return Buffer.concat([fixed, noncePrefix, Buffer.from(context, "utf8")]);
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
  const cipher = createCipheriv(
    "aes-256-gcm",
    fileKey.keyObject,
    chunkNonce(fileKey.noncePrefix, index, last),
  );
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
      chunkNonce(fileKey.noncePrefix, index, last),
    );
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    const plain = decipher.update(body);
    const rest = decipher.final();
    return rest.length ? Buffer.concat([plain, rest]) : plain;
  } catch {
    throw new TamperedError(`chunk ${index} was modified`);
  }
}

/**
 * A key for the partial last chunk an interrupted upload keeps between requests. Derived,
 * so it never shares nonces with the object's chunks; its nonces are random because one
 * partial chunk is rewritten as it grows.
 */
export function tailKey(fileKey: FileKey): Buffer {
  return Buffer.from(hkdfSync("sha256", fileKey.key, Buffer.alloc(0), TAIL_KEY_INFO, KEY_LENGTH));
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
