import { availableParallelism } from "node:os";

/**
 * How many worker threads a pool on the web node starts: one per core the main thread
 * leaves free, at least one, at most `max`. Used by the file transfers and the push sender.
 */
export function workerPoolSize(max = 4): number {
  return Math.max(1, Math.min(max, availableParallelism() - 1));
}
