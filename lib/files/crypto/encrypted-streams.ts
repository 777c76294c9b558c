import "server-only";
import { Transform, type TransformCallback } from "node:stream";
import { type FileKey, sealChunk } from "./encryption";
import { CHUNK_SIZE } from "./format";

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
