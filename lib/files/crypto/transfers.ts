import "server-only";
import type { ServerResponse } from "node:http";
import { Worker } from "node:worker_threads";
import { logger } from "@/lib/server/log";
import { workerPoolSize } from "@/lib/server/workers";
import type { FileKey } from "./encryption";
import { CHUNK_SIZE, TamperedError } from "./format";
import type { FromWorker, ToWorker } from "./transfer-worker";

const log = logger("files");

/**
 * Moves file bytes between HTTP and disk through worker threads (./transfer-worker.ts),
 * which do the encryption and the disk I/O.
 *
 * Why: every buffer allocated on a V8 thread counts towards that thread's next full
 * garbage collection, and on the web node each full collection marks Next's ~100 MB heap.
 * Encrypting a gigabyte on the main thread allocated it three times over (socket, stream
 * adapter, cipher) and spent most of its CPU in those collections. Here the main thread
 * copies the bytes it receives into a shared ring and writes the bytes it sends straight
 * from one; the cipher's and the disk's buffers live on the worker's small heap, where a
 * collection costs almost nothing. AES also gets a core of its own.
 */

/** Bytes in flight per transfer: enough for the worker to seal or open several chunks ahead. */
const RING_BYTES = 4 * CHUNK_SIZE;
/** The main thread tells the worker about new upload bytes in steps of this. */
const SIGNAL_BYTES = CHUNK_SIZE;
/** The worker's young generation: transfer-worker.ts fills about a sixteenth of it per chunk. */
const YOUNG_GENERATION_MB = 4;

/** One request's upload into a staged data file. */
export interface Sealing {
  /** Copies `piece` into the ring; returns a promise only when it had to wait for room. */
  push(piece: Buffer): Promise<void> | undefined;
  /** No more bytes: seals the whole chunks still pending; `rest` is the partial chunk's plaintext. */
  finish(): Promise<{ index: number; rest: Buffer }>;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, (message: FromWorker) => void>;
}

export class Transfers {
  private readonly slots: Slot[] = [];
  private nextJob = 1;
  private closed = false;

  constructor(private readonly poolSize = workerPoolSize()) {}

  /**
   * Starts sealing an upload's bytes into `path` from chunk `index` on (the file is cut
   * back to that chunk's start first). `capacity` is at most how many bytes will be
   * pushed, so a small file gets a small ring.
   */
  seal(params: {
    path: string;
    fileKey: FileKey;
    index: number;
    size: number;
    capacity: number;
  }): Sealing {
    const ring = new SharedArrayBuffer(Math.max(1, Math.min(RING_BYTES, params.capacity)));
    const view = Buffer.from(ring);
    const slot = this.slot();
    const job = this.nextJob++;
    let written = 0;
    let signalled = 0;
    let released = 0;
    let failure: Error | null = null;
    let room: (() => void) | null = null;
    let done: { resolve(v: { index: number; rest: Buffer }): void; reject(e: Error): void };
    const finished = new Promise<{ index: number; rest: Buffer }>((resolve, reject) => {
      done = { resolve, reject };
    });
    // Nobody may be waiting on it yet when the worker fails; push() rethrows then.
    finished.catch(() => undefined);

    const send = (message: ToWorker) => slot.worker.postMessage(message);
    const signal = () => {
      if (written === signalled) return;
      signalled = written;
      send({ op: "filled", job, total: written });
    };
    slot.jobs.set(job, (message) => {
      if (message.type === "released") {
        released = message.total;
        const wake = room;
        room = null;
        wake?.();
      } else if (message.type === "sealed") {
        this.end(slot, job);
        done.resolve({
          index: message.index,
          rest: Buffer.from(message.rest.buffer, 0, message.rest.length),
        });
      } else if (message.type === "error") {
        this.end(slot, job);
        failure = new Error(`Sealing the upload failed: ${message.message}`);
        done.reject(failure);
        const wake = room;
        room = null;
        wake?.();
      }
    });
    send({
      op: "seal",
      job,
      path: params.path,
      key: params.fileKey.key,
      noncePrefix: params.fileKey.noncePrefix,
      index: params.index,
      size: params.size,
      ring,
    });

    const copy = (piece: Buffer): Buffer => {
      const free = view.length - (written - released);
      const at = written % view.length;
      const length = Math.min(piece.length, free, view.length - at);
      piece.copy(view, at, 0, length);
      written += length;
      if (written - signalled >= SIGNAL_BYTES || written - released === view.length) signal();
      return piece.subarray(length);
    };
    const pushSlowly = async (rest: Buffer): Promise<void> => {
      while (rest.length > 0) {
        if (failure) throw failure;
        if (written - released === view.length) {
          signal();
          await new Promise<void>((resolve) => {
            room = resolve;
          });
          continue;
        }
        rest = copy(rest);
      }
    };

    return {
      push(piece) {
        if (failure) throw failure;
        let rest = copy(piece);
        if (rest.length > 0) rest = copy(rest);
        return rest.length > 0 ? pushSlowly(rest) : undefined;
      },
      finish() {
        if (!failure) {
          signal();
          send({ op: "finish", job });
        }
        return finished;
      },
    };
  }

  /**
   * Streams plaintext bytes start..end of the stored object at `path` to `res` (its head
   * already set). A chunk that fails authentication breaks the response off before any of
   * its bytes are sent.
   */
  send(
    res: ServerResponse,
    params: { path: string; fileKey: FileKey; size: number; start: number; end: number },
  ): Promise<void> {
    // A client gone before the head was sent: its 'close' has fired already, and nothing
    // would ever release the ring.
    if (res.destroyed || res.socket?.destroyed !== false) return Promise.resolve();
    const length = params.end - params.start + 1;
    const ring = new SharedArrayBuffer(Math.max(1, Math.min(RING_BYTES, length)));
    const slot = this.slot();
    const job = this.nextJob++;
    let released = 0;
    let over = false;
    return new Promise<void>((resolve) => {
      const stop = () => {
        if (over) return;
        over = true;
        this.end(slot, job);
        resolve();
      };
      res.once("close", () => {
        if (!over) slot.worker.postMessage({ op: "cancel", job } satisfies ToWorker);
        stop();
      });
      slot.jobs.set(job, (message) => {
        if (message.type === "data") {
          // A view, not a copy: the ring's bytes are reused only once the socket has taken them.
          res.write(Buffer.from(ring, message.at, message.length), (err) => {
            if (err || over) return;
            released += message.length;
            slot.worker.postMessage({ op: "released", job, total: released } satisfies ToWorker);
          });
        } else if (message.type === "end") {
          res.end(stop);
        } else if (message.type === "error") {
          const err = message.tampered
            ? new TamperedError(message.message)
            : new Error(message.message);
          log.error("streaming a stored object failed", { err: err.message });
          res.destroy(err);
          stop();
        }
      });
      slot.worker.postMessage({
        op: "open",
        job,
        path: params.path,
        key: params.fileKey.key,
        noncePrefix: params.fileKey.noncePrefix,
        size: params.size,
        start: params.start,
        end: params.end,
        ring,
      } satisfies ToWorker);
    });
  }

  /**
   * The media type of a file from its first bytes (./sniff.ts), worked out on a worker so
   * that no content, however crafted, can hold up the main thread.
   */
  sniff(sample: Uint8Array): Promise<string> {
    const slot = this.slot();
    const job = this.nextJob++;
    return new Promise<string>((resolve, reject) => {
      slot.jobs.set(job, (message) => {
        this.end(slot, job);
        if (message.type === "sniffed") resolve(message.mime);
        else if (message.type === "error")
          reject(new Error(`Sniffing the file failed: ${message.message}`));
      });
      slot.worker.postMessage({ op: "sniff", job, sample } satisfies ToWorker);
    });
  }

  /** Transfers in progress, over all workers (tests check none is left behind). */
  get running(): number {
    return this.slots.reduce((n, s) => n + s.jobs.size, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** The worker with the fewest transfers, started if the pool is not full yet. */
  private slot(): Slot {
    if (this.closed) throw new Error("File transfers are shut down");
    const idle = this.slots.find((s) => s.jobs.size === 0);
    if (idle) return this.use(idle);
    if (this.slots.length < this.poolSize) return this.use(this.spawn());
    const least = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    return this.use(least);
  }

  private use(slot: Slot): Slot {
    // A worker with transfers keeps the process alive, an idle one does not.
    slot.worker.ref();
    return slot;
  }

  private end(slot: Slot, job: number): void {
    slot.jobs.delete(job);
    if (slot.jobs.size === 0) slot.worker.unref();
  }

  private spawn(): Slot {
    const worker = new Worker(new URL("./transfer-worker.ts", import.meta.url), {
      // Small, so the worker's pacing (see paceCollections there) triggers scavenges.
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    const slot: Slot = { worker, jobs: new Map() };
    worker.on("message", (message: FromWorker) => slot.jobs.get(message.job)?.(message));
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (this.closed) return;
      log.error("a file transfer worker stopped", { err: err.message });
      for (const [job, handle] of slot.jobs) {
        handle({ type: "error", job, message: err.message, tampered: false });
      }
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
