/**
 * The SFU's media workers, seen from the main thread: one worker thread per core
 * (SFU_WORKERS), each with its own event loop, UDP sockets and share of the port range;
 * pipe links between every pair; requests with answers; and a restart when one dies (its
 * calls are told to rejoin by the Server). Where a room's participants go is
 * {@link placePeer}. Design and the measurements behind threads: docs/architecture.md,
 * docs/sfu.md ("Workers").
 */
import { MessageChannel, Worker } from "node:worker_threads";
import { type SfuConfig, workerPortRange } from "./config";
import { SfuError } from "./errors";
import type { Logger } from "./log";
import type { ErrorBody } from "./protocol";
import { TypedEmitter } from "./typed-emitter";
import type { FromWorker, ToWorker, WorkerInit } from "./worker-protocol";

/** A worker's load as placement sees it. */
export interface WorkerLoad {
  index: number;
  alive: boolean;
  /** Participants on it, all rooms. */
  peers: number;
}

/**
 * Which worker a room's next participant goes to (undefined: none is alive).
 *
 * - A new room goes to the least-loaded worker.
 * - A room stays on the workers it is on while one of them has fewer than
 *   `peersPerWorker` of its participants (the least-loaded such worker).
 * - A room that has outgrown them spreads to the least-loaded worker it is not on yet;
 *   on every worker already, to the least-loaded of them.
 *
 * `room` maps each worker the room is on to its participants there.
 */
export function placePeer(
  room: ReadonlyMap<number, number>,
  workers: readonly WorkerLoad[],
  peersPerWorker: number,
): number | undefined {
  const alive = workers.filter((w) => w.alive);
  const least = (candidates: WorkerLoad[]) =>
    candidates.reduce<WorkerLoad | undefined>(
      (best, w) => (!best || w.peers < best.peers ? w : best),
      undefined,
    )?.index;
  const on = alive.filter((w) => room.has(w.index));
  const roomy = on.filter((w) => room.get(w.index)! < peersPerWorker);
  if (roomy.length > 0) return least(roomy);
  const elsewhere = alive.filter((w) => !room.has(w.index));
  return least(elsewhere.length > 0 ? elsewhere : on);
}

/** A worker's message, minus the request id the pool assigns. */
type Request = ToWorker extends infer M
  ? M extends { id: number }
    ? Omit<M, "id">
    : never
  : never;

type PoolEvents = {
  /** A message from a worker that is not an answer (events, disconnects, room changes). */
  message: [number, FromWorker];
  /** A worker died; its requests failed. It is restarted. */
  down: [number];
};

interface Slot {
  worker: Worker | undefined;
  alive: boolean;
  crashes: number;
  restart: NodeJS.Timeout | undefined;
}

const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long is healthy again: its next crash restarts quickly. */
const HEALTHY_AFTER_MS = 30_000;

export class WorkerPool extends TypedEmitter<PoolEvents> {
  private readonly slots: Slot[];
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { worker: number; resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  private closing = false;

  constructor(
    private readonly config: SfuConfig,
    private readonly log: Logger,
  ) {
    super();
    this.slots = Array.from({ length: config.SFU_WORKERS }, () => ({
      worker: undefined,
      alive: false,
      crashes: 0,
      restart: undefined,
    }));
  }

  get size(): number {
    return this.slots.length;
  }

  isAlive(index: number): boolean {
    return this.slots[index]?.alive ?? false;
  }

  /** Starts every worker; resolves once all are ready and linked. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, index) => this.spawn(index)));
  }

  /** Posts a message that needs no answer (dropped if the worker is down). */
  send(index: number, message: ToWorker): void {
    const slot = this.slots[index];
    if (slot?.alive) slot.worker!.postMessage(message);
  }

  /** Posts a request and resolves with the worker's answer; an SfuError if it refused. */
  request(index: number, message: Request): Promise<unknown> {
    const slot = this.slots[index];
    if (!slot?.alive)
      return Promise.reject(new SfuError("closing", "that media worker is restarting"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker: index, resolve, reject });
      slot.worker!.postMessage({ ...message, id } as ToWorker);
    });
  }

  /** Tests only (SFU_DEBUG_CRASH): makes a worker throw. */
  crash(index: number): void {
    this.send(index, { type: "crash" });
  }

  /** Closes every worker's rooms, then stops them. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (slot, index) => {
        clearTimeout(slot.restart);
        if (!slot.alive) return;
        await Promise.race([
          this.request(index, { type: "close" }).catch(() => {}),
          new Promise((resolve) => setTimeout(resolve, 2_000)),
        ]);
        slot.alive = false;
        await slot.worker!.terminate();
      }),
    );
  }

  private spawn(index: number): Promise<void> {
    const slot = this.slots[index]!;
    const init: WorkerInit = {
      index,
      config: this.config,
      portRange: workerPortRange(this.config, index, this.slots.length),
    };
    const worker = new Worker(new URL("./worker.ts", import.meta.url), {
      workerData: init,
      name: `sfu-worker-${index}`,
    });
    slot.worker = worker;
    const startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          slot.alive = true;
          this.linkTo(index);
          this.log.info("media worker ready", { worker: index, threadId: worker.threadId });
          resolve();
        } else if (message.type === "failed") {
          this.closing = true;
          reject(new Error(message.message));
        } else if (message.type === "result") {
          this.settle(message.id, message.ok ? { data: message.data } : { error: message.error });
        } else {
          this.emit("message", index, message);
        }
      });
      worker.on("error", (err) => {
        this.log.error("media worker crashed", {
          worker: index,
          err: err instanceof Error ? (err.stack ?? err.message) : String(err),
        });
      });
      worker.on("exit", (code) => {
        if (slot.worker !== worker) return;
        const wasAlive = slot.alive;
        slot.alive = false;
        slot.worker = undefined;
        for (const [id, request] of this.pending)
          if (request.worker === index) {
            this.pending.delete(id);
            request.reject(new SfuError("closing", "the media worker stopped"));
          }
        if (this.closing) return;
        if (!wasAlive) {
          reject(new Error(`media worker ${index} exited with ${code} before it was ready`));
          return;
        }
        this.log.error("media worker exited; its calls rejoin", { worker: index, code });
        this.emit("down", index);
        if (Date.now() - startedAt > HEALTHY_AFTER_MS) slot.crashes = 0;
        const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** slot.crashes++);
        slot.restart = setTimeout(() => {
          this.spawn(index).catch((err: unknown) =>
            this.log.error("media worker restart failed", { worker: index, err: String(err) }),
          );
        }, delay);
        slot.restart.unref();
      });
    });
  }

  /** Gives a (re)started worker a pipe link to every other live worker. */
  private linkTo(index: number): void {
    this.slots.forEach((other, j) => {
      if (j === index || !other.alive) return;
      const { port1, port2 } = new MessageChannel();
      this.slots[index]!.worker!.postMessage({ type: "link", worker: j, port: port1 }, [port1]);
      other.worker!.postMessage({ type: "link", worker: index, port: port2 }, [port2]);
    });
  }

  private settle(id: number, outcome: { data: unknown } | { error: ErrorBody }): void {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    if ("error" in outcome) request.reject(new SfuError(outcome.error.code, outcome.error.message));
    else request.resolve(outcome.data);
  }
}
