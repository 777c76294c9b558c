/**
 * The transfer worker: encrypts uploads onto disk and decrypts downloads off it, so that
 * the bytes of a large file are never allocated on the web node's main thread (see
 * ./transfers.ts for why that matters and for the main thread's side).
 *
 * Bytes cross between the threads through a SharedArrayBuffer ring per transfer; messages
 * only say how far the ring is filled or released. Everything this thread allocates
 * (cipher output, read buffers) is collected by its own small heap.
 *
 * It also sniffs uploads' media types (../sniff.ts), so that looking at a file's content
 * can never stall the main thread.
 *
 * The stored format (layout, nonces, lengths) is ./format.ts's, the module the main thread
 * uses too. This file is loaded by `new Worker(url)`, outside any bundler and path alias:
 * it imports node: modules and ./format.ts only (with its extension, and ../sniff.ts by
 * URL, below) and uses only type syntax Node can strip, so it runs under tsx (the server),
 * Node's own type stripping and vitest alike.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { parentPort } from "node:worker_threads";
import type * as Sniff from "../sniff";
import {
  chunkCount,
  chunkNonce,
  chunkOffset,
  chunksOf,
  plainChunkLength,
  SEALED_CHUNK_SIZE,
  sealedChunkLength,
  sliceOfChunk,
  TAG_LENGTH,
  TamperedError,
} from "./format.ts";

/** Seal an upload's incoming bytes into its data file, chunk by chunk. */
export interface SealJob {
  op: "seal";
  job: number;
  path: string;
  key: Uint8Array;
  noncePrefix: Uint8Array;
  /** The first chunk this request seals, and the plaintext size of the whole upload. */
  index: number;
  size: number;
  /** Plaintext in: the main thread writes, this thread releases. */
  ring: SharedArrayBuffer;
}

/** Decrypt plaintext bytes start..end (inclusive) of a stored object into a ring. */
export interface OpenJob {
  op: "open";
  job: number;
  path: string;
  key: Uint8Array;
  noncePrefix: Uint8Array;
  size: number;
  start: number;
  end: number;
  /** Plaintext out: this thread writes, the main thread releases. */
  ring: SharedArrayBuffer;
}

/** Sniff a file's media type from its first bytes (at most SNIFF_BYTES are looked at). */
export interface SniffJob {
  op: "sniff";
  job: number;
  sample: Uint8Array;
}

export type ToWorker =
  | SealJob
  | OpenJob
  | SniffJob
  /** Seal: the ring holds bytes up to this total. */
  | { op: "filled"; job: number; total: number }
  /** Seal: no more bytes will come. */
  | { op: "finish"; job: number }
  /** Open: the main thread is done with the ring's bytes up to this total. */
  | { op: "released"; job: number; total: number }
  | { op: "cancel"; job: number };

export type FromWorker =
  /** Seal: ring bytes up to this total are sealed and written. */
  | { type: "released"; job: number; total: number }
  /** Seal: done; `index` is the next chunk to seal, `rest` the plaintext of a partial one. */
  | { type: "sealed"; job: number; index: number; rest: Uint8Array }
  /** Open: plaintext at ring offset `at`. */
  | { type: "data"; job: number; at: number; length: number }
  | { type: "end"; job: number }
  /** Sniff: the media type. */
  | { type: "sniffed"; job: number; mime: string }
  | { type: "error"; job: number; message: string; tampered: boolean };

/**
 * Every chunk leaves a dead cipher buffer (outside the JS heap), and V8 frees those only in
 * a collection. With this thread's few JS objects nothing else triggers one, so V8 would let
 * ~64 MB of them pile up before a full collection (or, under an old-generation limit,
 * run a costly memory-reducing one every few chunks). Instead the worker runs with a tiny
 * young generation (./transfers.ts) and fills part of it on purpose after each chunk:
 * a cheap scavenge every few chunks (well under a millisecond) then frees the dead buffers, so the worker's memory
 * stays flat at no measurable CPU cost. PACING_SLOTS × 8 bytes ≈ 256 KB.
 */
const PACING_SLOTS = 32 * 1024;
let _pacing: unknown = null;
function paceCollections(): void {
  const garbage: number[][] = [];
  for (let i = 0; i < PACING_SLOTS; i += 2048) garbage.push(new Array<number>(2048).fill(0));
  // Kept until the next call, so the allocation cannot be optimised away.
  _pacing = garbage;
}

/** A job's inbox: what it is waiting for arrives through `wake`. */
interface Running {
  /** Seal: total bytes written into the ring; open: total bytes released from it. */
  total: number;
  finished: boolean;
  cancelled: boolean;
  wake: (() => void) | null;
}

const running = new Map<number, Running>();

function post(message: FromWorker, transfer?: ArrayBuffer[]): void {
  parentPort!.postMessage(message, transfer ?? []);
}

/** Resolves once the main thread has said something new to this job. */
function nextMessage(state: Running): Promise<void> {
  return new Promise((resolve) => {
    state.wake = resolve;
  });
}

/** The ring's bytes from total offset `from`, `length` long: one or two views (it wraps). */
function ringViews(ring: Buffer, from: number, length: number): Buffer[] {
  const at = from % ring.length;
  const first = Math.min(length, ring.length - at);
  const views = [ring.subarray(at, at + first)];
  if (first < length) views.push(ring.subarray(0, length - first));
  return views;
}

async function seal(job: SealJob, state: Running): Promise<void> {
  const key = createSecretKey(job.key);
  const ring = Buffer.from(job.ring);
  const lastIndex = chunkCount(job.size) - 1;
  let index = job.index;
  let consumed = 0;
  // One chunk's write runs while the next is sealed; at most one, so memory stays bounded.
  let writing: Promise<void> = Promise.resolve();
  const handle = await open(job.path, "r+");
  try {
    // Anything past the last whole chunk is a write that a crash cut short.
    await handle.truncate(chunkOffset(index));
    for (;;) {
      while (index <= lastIndex && state.total - consumed >= plainChunkLength(job.size, index)) {
        const length = plainChunkLength(job.size, index);
        const cipher = createCipheriv(
          "aes-256-gcm",
          key,
          chunkNonce(job.noncePrefix, index, index === lastIndex),
        );
        const out = ringViews(ring, consumed, length).map((view) => cipher.update(view));
        out.push(cipher.final(), cipher.getAuthTag());
        // The cipher has read these ring bytes: the main thread may fill them again.
        consumed += length;
        post({ type: "released", job: job.job, total: consumed });
        paceCollections();
        await writing;
        writing = writeAll(handle, out, chunkOffset(index));
        // Awaited before the next write or at the end; until then a failure must not go unhandled.
        writing.catch(() => undefined);
        index++;
      }
      if (state.finished || state.cancelled) break;
      await nextMessage(state);
    }
    await writing;
  } finally {
    await writing.catch(() => undefined);
    await handle.close();
  }
  // What is left is less than a chunk: the main thread keeps it as the upload's tail.
  const rest = new Uint8Array(state.total - consumed);
  let at = 0;
  for (const view of ringViews(ring, consumed, rest.length)) {
    rest.set(view, at);
    at += view.length;
  }
  post({ type: "sealed", job: job.job, index, rest }, [rest.buffer as ArrayBuffer]);
}

async function openRange(job: OpenJob, state: Running): Promise<void> {
  const key: KeyObject = createSecretKey(job.key);
  const ring = Buffer.from(job.ring);
  const lastIndex = chunkCount(job.size) - 1;
  const { first, past } = chunksOf(job.start, job.end);
  const sealedLength = (i: number) => sealedChunkLength(job.size, i);
  // Two read buffers for the whole download, so the next chunk is read from disk while this
  // one is decrypted; only the decrypted output is new memory.
  const buffers = [0, 1].map(() => Buffer.allocUnsafe(SEALED_CHUNK_SIZE));
  let written = 0;
  const handle = await open(job.path, "r");
  const read = (i: number) => readFully(handle, buffers[i % 2]!, sealedLength(i), chunkOffset(i));
  let reading: Promise<number> | null = null;
  try {
    reading = read(first);
    for (let index = first; index < past; index++) {
      const got = await reading;
      reading = index + 1 < past ? read(index + 1) : null;
      // Awaited in the next round or below; a failure meanwhile must not go unhandled.
      reading?.catch(() => undefined);
      const length = sealedLength(index);
      if (got !== length) throw new TamperedError("object ends early");
      const sealed = buffers[index % 2]!;
      let plain: Buffer;
      try {
        const decipher = createDecipheriv(
          "aes-256-gcm",
          key,
          chunkNonce(job.noncePrefix, index, index === lastIndex),
        );
        decipher.setAuthTag(sealed.subarray(length - TAG_LENGTH, length));
        plain = decipher.update(sealed.subarray(0, length - TAG_LENGTH));
        // final() checks the tag: nothing of this chunk reaches the ring unless it passes.
        decipher.final();
      } catch {
        throw new TamperedError(`chunk ${index} was modified`);
      }
      paceCollections();
      const { from, to } = sliceOfChunk(index, plain.length, job.start, job.end);
      let piece = plain.subarray(from, to);
      while (piece.length > 0) {
        while (!state.cancelled && written - state.total >= ring.length) await nextMessage(state);
        if (state.cancelled) return;
        const at = written % ring.length;
        const length = Math.min(
          piece.length,
          ring.length - at,
          ring.length - (written - state.total),
        );
        piece.copy(ring, at, 0, length);
        post({ type: "data", job: job.job, at, length });
        written += length;
        piece = piece.subarray(length);
      }
    }
  } finally {
    // A read still running must end before its file handle closes.
    await reading?.catch(() => undefined);
    await handle.close();
  }
  post({ type: "end", job: job.job });
}

async function readFully(handle: FileHandle, target: Buffer, length: number, position: number) {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(target, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

/** writev may write less than asked; keep going until it has all. */
async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length) {
    const { bytesWritten } = await handle.writev(rest, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}

/**
 * ./sniff.ts, loaded on first use. By URL and with its extension, because Node's own type
 * stripping (vitest runs this file without tsx) resolves no extensionless paths.
 */
let sniffModule: Promise<typeof Sniff> | null = null;

async function sniff(job: SniffJob): Promise<void> {
  try {
    sniffModule ??= import(new URL("../sniff.ts", import.meta.url).href) as Promise<typeof Sniff>;
    const { sniffType } = await sniffModule;
    post({ type: "sniffed", job: job.job, mime: await sniffType(job.sample) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    post({ type: "error", job: job.job, message, tampered: false });
  }
}

function start(job: SealJob | OpenJob): void {
  const state: Running = { total: 0, finished: false, cancelled: false, wake: null };
  running.set(job.job, state);
  const work = job.op === "seal" ? seal(job, state) : openRange(job, state);
  work
    .catch((err: unknown) => {
      post({
        type: "error",
        job: job.job,
        message: err instanceof Error ? err.message : String(err),
        tampered: err instanceof TamperedError,
      });
    })
    .finally(() => running.delete(job.job));
}

parentPort?.on("message", (message: ToWorker) => {
  if (message.op === "seal" || message.op === "open") {
    start(message);
    return;
  }
  if (message.op === "sniff") {
    void sniff(message);
    return;
  }
  const state = running.get(message.job);
  if (!state) return;
  if (message.op === "filled" || message.op === "released") state.total = message.total;
  else if (message.op === "finish") state.finished = true;
  else state.cancelled = true;
  const wake = state.wake;
  state.wake = null;
  wake?.();
});
