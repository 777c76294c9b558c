import "server-only";
import { Worker } from "node:worker_threads";
import { logger } from "@/lib/server/log";
import { workerPoolSize } from "@/lib/server/workers";
import type {
  PushBatch,
  PushBatchResult,
  PushOptions,
  PushTarget,
  PushWorkerConfig,
} from "./push-worker";

export type { PushOptions, PushTarget } from "./push-worker";

const log = logger("push");

export type PushOutcome = "sent" | "gone" | "failed";

export interface PushSenderOptions {
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** The subscription is gone (404/410): delete it. */
  onGone(id: string): Promise<void>;
  /** Tries per push (the first included) on 429, 5xx or a network failure. */
  attempts?: number;
  /** First retry delay; doubled each time, with jitter, or the service's Retry-After. */
  baseDelayMs?: number;
  /** Longest a Retry-After is honoured in process; beyond it the push is dropped. */
  maxDelayMs?: number;
  /** Requests in flight at once, across every fan-out on this node. */
  concurrency?: number;
  timeoutMs?: number;
  /**
   * Origins exempt from the public-address rule (the tests' local push service,
   * PUSH_INSECURE_ORIGINS). Every other endpoint is reached only at public addresses.
   */
  trustedOrigins?: readonly string[];
  /** Worker threads (default: one per core the main thread leaves free, at most two). */
  workers?: number;
  /**
   * The share of a core each worker may use on average, (0–1]. Default 1, unpaced; the
   * server's sender (startNotify) passes PUSH_WORKER_CPU_PERCENT.
   */
  cpuShare?: number;
}

/** Devices per message to a worker: few messages, and the first requests start early. */
const BATCH = 100;

interface Slot {
  worker: Worker;
  /** Devices handed to this worker and not answered yet. */
  queued: number;
  jobs: Map<number, (result: PushBatchResult) => void>;
}

/**
 * Hands encrypted pushes to browsers' push services (RFC 8030, RFC 8291 aes128gcm, RFC 8292
 * VAPID). The work, encryption and HTTP alike, runs on worker threads (./push-worker.ts),
 * so a fan-out to thousands of devices does not hold up the main thread's other rooms:
 * this side splits the devices into batches, hands each to the least busy worker and
 * collects the outcomes. An endpoint is a URL a user chose, so it is reached only at public
 * addresses (lib/server/public-address.ts) and redirects are not followed. 404/410 deletes
 * the subscription (`onGone`), 429/5xx and network failures are retried with exponential
 * backoff (or Retry-After), anything else is dropped with a log line.
 */
export class PushSender {
  private readonly slots: Slot[] = [];
  private readonly config: PushWorkerConfig;
  private readonly poolSize: number;
  private nextJob = 1;
  private closed = false;

  constructor(private readonly options: PushSenderOptions) {
    this.poolSize = options.workers ?? workerPoolSize(2);
    this.config = {
      vapid: options.vapid,
      trustedOrigins: [...(options.trustedOrigins ?? [])],
      attempts: options.attempts ?? 4,
      baseDelayMs: options.baseDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 60_000,
      // The node-wide bound, shared out between the workers.
      concurrency: Math.max(1, Math.ceil((options.concurrency ?? 64) / this.poolSize)),
      timeoutMs: options.timeoutMs ?? 10_000,
      cpuShare: options.cpuShare ?? 1,
    };
  }

  /** Pushes one payload to one device. */
  async send(target: PushTarget, payload: string, options: PushOptions): Promise<PushOutcome> {
    const [outcome] = await this.sendAll([{ target, payload }], options);
    return outcome!;
  }

  /** Pushes to many devices; the outcomes are in the same order. */
  async sendAll(
    pushes: readonly { target: PushTarget; payload: string }[],
    options: PushOptions,
  ): Promise<PushOutcome[]> {
    const outcomes = new Map<string, PushOutcome>();
    const batches: Promise<void>[] = [];
    for (let i = 0; i < pushes.length; i += BATCH) {
      const slice = pushes.slice(i, i + BATCH);
      // A fan-out's payloads are few (with and without the preview): each crosses once.
      const payloads: string[] = [];
      const index = new Map<string, number>();
      const targets = slice.map(({ target, payload }) => {
        let at = index.get(payload);
        if (at === undefined) {
          at = payloads.push(payload) - 1;
          index.set(payload, at);
        }
        const { id, endpoint, p256dh, auth } = target;
        return { id, endpoint, p256dh, auth, payload: at };
      });
      batches.push(
        this.run(payloads, targets, options).then(async (result) => {
          for (const id of result.sent) outcomes.set(id, "sent");
          for (const id of result.gone) {
            outcomes.set(id, "gone");
            await this.options.onGone(id);
          }
          for (const f of result.failed) {
            if (f.unusable) {
              outcomes.set(f.id, "gone");
              log.warn("push subscription deleted: its keys cannot encrypt", { host: f.host });
              await this.options.onGone(f.id);
              continue;
            }
            outcomes.set(f.id, "failed");
            if (f.refused)
              log.warn("push endpoint refused: not a public address", { host: f.host });
            else
              log.warn("push not delivered", {
                status: f.status,
                attempt: f.attempts,
                host: f.host,
              });
          }
        }),
      );
    }
    await Promise.all(batches);
    return pushes.map(({ target }) => outcomes.get(target.id) ?? "failed");
  }

  /** Stops the workers; pushes still in flight are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private run(
    payloads: string[],
    targets: PushBatch["targets"],
    options: PushOptions,
  ): Promise<PushBatchResult> {
    const slot = this.slot();
    const job = this.nextJob++;
    slot.queued += targets.length;
    slot.worker.ref();
    return new Promise<PushBatchResult>((resolve) => {
      slot.jobs.set(job, (result) => {
        slot.jobs.delete(job);
        slot.queued -= targets.length;
        // A worker with pushes keeps the process alive, an idle one does not.
        if (slot.jobs.size === 0) slot.worker.unref();
        resolve(result);
      });
      slot.worker.postMessage({ job, payloads, targets, options } satisfies PushBatch);
    });
  }

  /** The worker with the fewest devices queued, started if the pool is not full yet. */
  private slot(): Slot {
    if (this.closed) throw new Error("The push sender is closed");
    const idle = this.slots.find((s) => s.queued === 0);
    if (idle) return idle;
    if (this.slots.length < this.poolSize) return this.spawn();
    return this.slots.reduce((a, b) => (b.queued < a.queued ? b : a));
  }

  private spawn(): Slot {
    const worker = new Worker(new URL("./push-worker.ts", import.meta.url), {
      workerData: this.config,
    });
    worker.unref();
    const slot: Slot = { worker, queued: 0, jobs: new Map() };
    worker.on("message", (result: PushBatchResult) => slot.jobs.get(result.job)?.(result));
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (!this.closed) log.error("a push worker stopped", { err: err.message });
      // Its batches fail whole; the next fan-out starts a new worker.
      for (const [job, done] of slot.jobs) done({ job, sent: [], gone: [], failed: [] });
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
