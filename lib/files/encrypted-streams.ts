import "server-only";
import { Transform, type TransformCallback } from "node:stream";
import {
  CHUNK_SIZE,
  chunkCount,
  type FileKey,
  openChunk,
  SEALED_CHUNK_SIZE,
  sealChunk,
  TAG_LENGTH,
  TamperedError,
} from "./encryption";

/**
 * Byte queue that hands out exact lengths without copying when the pieces allow it.
 * Streams deliver arbitrary piece sizes; chunks are fixed-size.
 */
export class ByteQueue {
  private pieces: Buffer[] = [];
  length = 0;

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.length += piece.length;
  }

  /** Removes the first n bytes (n ≤ length) as a list of pieces. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.pieces[0]!;
      if (head.length <= need) {
        out.push(head);
        this.pieces.shift();
        need -= head.length;
      } else {
        out.push(head.subarray(0, need));
        this.pieces[0] = head.subarray(need);
        need = 0;
      }
    }
    this.length -= n;
    return out;
  }

  /** Removes the first n bytes as one buffer (copies only if they span pieces). */
  takeContiguous(n: number): Buffer {
    const parts = this.take(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Removes everything. */
  drain(): Buffer[] {
    const out = this.pieces;
    this.pieces = [];
    this.length = 0;
    return out;
  }
}

/**
 * Encrypts a stream of unknown length into the stored format (header, then chunks).
 * Holds back one chunk's worth until it knows whether more follows, because the last
 * chunk is sealed differently. Used for objects the server makes itself (thumbnails);
 * uploads are encrypted by the upload store, which knows their length in advance.
 */
export function encryptingStream(fileKey: FileKey): Transform {
  const queue = new ByteQueue();
  let index = 0;
  let started = false;
  const start = (self: Transform) => {
    if (!started) self.push(fileKey.header);
    started = true;
  };
  return new Transform({
    transform(data: Buffer, _enc, cb: TransformCallback) {
      start(this);
      queue.push(data);
      while (queue.length > CHUNK_SIZE) {
        for (const part of sealChunk(fileKey, index++, false, queue.take(CHUNK_SIZE)))
          this.push(part);
      }
      cb();
    },
    flush(cb: TransformCallback) {
      start(this);
      for (const part of sealChunk(fileKey, index, true, queue.drain())) this.push(part);
      cb();
    },
  });
}

/** Which plaintext bytes to decrypt, and the stored bytes that hold them. */
export interface DecryptPlan {
  firstChunk: number;
  /** Plaintext bytes to drop from the first chunk. */
  skip: number;
  /** Plaintext bytes to emit. */
  length: number;
  /** Stored byte range (inclusive) to read. */
  storedStart: number;
  storedEnd: number;
}

/** Plans decrypting plaintext bytes start..end (inclusive) of an object of plainSize bytes. */
export function planRange(
  plainSize: number,
  start: number,
  end: number,
  headerLength: number,
): DecryptPlan {
  const lastIndex = chunkCount(plainSize) - 1;
  const firstChunk = Math.floor(start / CHUNK_SIZE);
  const lastChunk = Math.min(lastIndex, Math.floor(end / CHUNK_SIZE));
  const lastSealed =
    lastChunk === lastIndex ? plainSize - lastIndex * CHUNK_SIZE + TAG_LENGTH : SEALED_CHUNK_SIZE;
  return {
    firstChunk,
    skip: start - firstChunk * CHUNK_SIZE,
    length: end - start + 1,
    storedStart: headerLength + firstChunk * SEALED_CHUNK_SIZE,
    storedEnd: headerLength + lastChunk * SEALED_CHUNK_SIZE + lastSealed - 1,
  };
}

/**
 * Decrypts stored chunks (starting at plan.firstChunk) into the planned plaintext range.
 * A chunk that fails its tag errors the stream: nothing unauthenticated is ever emitted.
 */
export function decryptingStream(
  fileKey: FileKey,
  plainSize: number,
  plan: DecryptPlan,
): Transform {
  const lastIndex = chunkCount(plainSize) - 1;
  const lastSealed = plainSize - lastIndex * CHUNK_SIZE + TAG_LENGTH;
  const queue = new ByteQueue();
  let index = plan.firstChunk;
  let skip = plan.skip;
  let remaining = plan.length;
  const unit = () => (index === lastIndex ? lastSealed : SEALED_CHUNK_SIZE);

  const emit = (self: Transform) => {
    while (remaining > 0 && queue.length >= unit()) {
      const plain = openChunk(fileKey, index, index === lastIndex, queue.takeContiguous(unit()));
      index++;
      const part = plain.subarray(skip, Math.min(plain.length, skip + remaining));
      skip = 0;
      remaining -= part.length;
      if (part.length) self.push(part);
    }
  };
  return new Transform({
    transform(data: Buffer, _enc, cb: TransformCallback) {
      queue.push(data);
      try {
        emit(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        emit(this);
        cb(remaining > 0 ? new TamperedError("object ends early") : null);
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
